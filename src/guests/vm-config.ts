/**
 * VM configuration files in Proxmox's qemu-server style (`guests/<vmid>.conf`):
 *
 *   #free text description (comment lines before the first key)
 *   name: web
 *   memory: 512
 *   agent: enabled=1,freeze-fs=1
 *   scsi0: local:100/vm-100-disk-0.qcow2,size=1G
 *
 * Snapshot sections (`[name]`) are kept verbatim but not interpreted.
 */
import { GuestvaultError } from '../errors.js';

export const DISK_BUSES = { scsi: 31, virtio: 16, sata: 6, ide: 4 } as const;
export type DiskBus = keyof typeof DISK_BUSES;

export interface DiskSpec {
  /** Config key, e.g. `scsi0`; also the QEMU device id. */
  key: string;
  bus: DiskBus;
  index: number;
  /** `storage:volume`, or `none` for an empty drive. */
  volid: string;
  /** Options after the volume, in their order (size, backup, format, media, …). */
  options: Record<string, string>;
}

export interface VmConfig {
  vmid: string;
  /** Every `key: value` line, in file order. */
  props: Record<string, string>;
  description?: string;
  /** Snapshot sections and anything after the first `[section]`, kept as written. */
  trailer?: string;
}

/** Keys we interpret, with a validator each. Other Proxmox keys are kept and passed through. */
const VALIDATORS: Record<string, (v: string) => string | undefined> = {
  name: (v) => (/^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$/.test(v) ? undefined : 'a DNS-style name (letters, digits, "-", ".")'),
  memory: (v) => (/^\d+$/.test(v) && Number(v) >= 16 ? undefined : 'memory in MiB (at least 16)'),
  cores: (v) => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 128 ? undefined : 'a number of cores from 1 to 128'),
  sockets: (v) => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 4 ? undefined : 'a number of sockets from 1 to 4'),
  machine: (v) => (/^(pc|q35|microvm)([a-z0-9.+-]*)$/.test(v) ? undefined : "a QEMU machine type such as 'q35' or 'pc'"),
  agent: (v) => {
    try {
      parseAgentOption(v);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  },
  boot: () => undefined,
  args: () => undefined,
  lock: (v) => (/^(backup|clone|create|migrate|rollback|snapshot|snapshot-delete|suspending|suspended)$/.test(v) ? undefined : 'one of backup, create, migrate, rollback, snapshot, suspended'),
  onboot: (v) => (v === '0' || v === '1' ? undefined : '0 or 1'),
  bios: (v) => (v === 'seabios' || v === 'ovmf' ? undefined : 'seabios or ovmf'),
  scsihw: (v) => (/^(virtio-scsi-pci|virtio-scsi-single|lsi)$/.test(v) ? undefined : 'virtio-scsi-pci, virtio-scsi-single or lsi'),
};

/** Proxmox keys we accept and keep without using them (a config copied from PVE must load). */
const PASSTHROUGH = /^(ostype|vmgenid|smbios1|meta|digest|cpu|numa|balloon|shares|tablet|vga|kvm|acpi|hotplug|localtime|protection|startup|tags|template|hookscript|parent|serial\d|usb\d|hostpci\d|net\d+|ipconfig\d+|cicustom|ciuser|cipassword|citype|searchdomain|nameserver|sshkeys|efidisk0|tpmstate0|unused\d+)$/;

export function isDiskKey(key: string): boolean {
  const m = /^(scsi|virtio|sata|ide)(\d+)$/.exec(key);
  return !!m && Number(m[2]) < DISK_BUSES[m[1] as DiskBus];
}

export interface AgentOption {
  enabled: boolean;
  freezeFs: boolean;
}

/** `1`, `0` or `enabled=1,freeze-fs=0` (alias `fstrim_cloned_disks`, `type` accepted and ignored). */
export function parseAgentOption(v: string | undefined): AgentOption {
  if (v === undefined) return { enabled: false, freezeFs: true };
  const out: AgentOption = { enabled: false, freezeFs: true };
  for (const [i, part] of v.split(',').entries()) {
    // The first value may stand alone (`agent: 1`); it is then the `enabled` flag.
    const [k, val] = part.includes('=') ? part.split('=', 2) as [string, string] : i === 0 ? ['enabled', part] : [part, ''];
    const bool = /^(1|0|yes|no|on|off|true|false)$/.test(val) ? /^(1|yes|on|true)$/.test(val) : undefined;
    if ((k === 'enabled' || k === 'freeze-fs' || k === 'freeze-fs-on-backup' || k === 'fstrim_cloned_disks') && bool === undefined) {
      throw new Error(`agent option '${k}' needs 0 or 1, not '${val}'`);
    }
    if (k === 'enabled') out.enabled = bool!;
    else if (k === 'freeze-fs' || k === 'freeze-fs-on-backup') out.freezeFs = bool!;
    else if (k !== 'fstrim_cloned_disks' && k !== 'type') throw new Error(`unknown agent option '${k}'`);
  }
  return out;
}

/** Parse a disk value: `<storage>:<volume>[,key=value...]` or `none[,...]`. */
export function parseDisk(key: string, value: string): DiskSpec {
  const m = /^(scsi|virtio|sata|ide)(\d+)$/.exec(key);
  if (!m || !isDiskKey(key)) throw new Error(`'${key}' is not a disk key`);
  const [volid, ...rest] = value.split(',');
  if (!volid || !(volid === 'none' || /^[A-Za-z][A-Za-z0-9._-]*:[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(volid))) {
    throw new Error(`expected '<storage>:<volume>[,options]', got '${value}'`);
  }
  const options: Record<string, string> = {};
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`disk option '${part}' is not key=value`);
    options[part.slice(0, eq)] = part.slice(eq + 1);
  }
  if (options.backup !== undefined && options.backup !== '0' && options.backup !== '1') throw new Error(`backup=${options.backup}: expected 0 or 1`);
  if (options.size !== undefined && parseSize(options.size) === undefined) throw new Error(`size=${options.size}: expected a size such as 512M or 32G`);
  return { key, bus: m[1] as DiskBus, index: Number(m[2]), volid, options };
}

export function formatDisk(d: DiskSpec): string {
  return [d.volid, ...Object.entries(d.options).map(([k, v]) => `${k}=${v}`)].join(',');
}

/** Proxmox size strings: a number with an optional K/M/G/T suffix (bytes without one). */
export function parseSize(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(s);
  if (!m) return undefined;
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2] as '' | 'K' | 'M' | 'G' | 'T'];
  return Math.round(Number(m[1]) * mult);
}

export function formatDiskSize(bytes: number): string {
  for (const [unit, mult] of [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes % mult === 0) return `${bytes / mult}${unit}`;
  }
  return String(bytes);
}

/** Parse a config file; errors name the file and line. */
export function parseVmConfig(vmid: string, text: string, file: string): VmConfig {
  const props: Record<string, string> = {};
  const description: string[] = [];
  const lines = text.split('\n');
  let trailerStart = -1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (/^\s*\[/.test(line)) {
      trailerStart = i;
      break;
    }
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      // Proxmox stores the description as leading comment lines, percent-encoded.
      description.push(safeDecode(line.slice(1)));
      continue;
    }
    const m = /^([a-z][a-z0-9_-]*):\s*(.*?)\s*$/.exec(line);
    if (!m) throw new GuestvaultError('E_GUEST_CONFIG', `${file}:${i + 1}: cannot parse ${JSON.stringify(line)} (expected 'key: value')`);
    const [, key, value] = m as unknown as [string, string, string];
    if (key in props) throw new GuestvaultError('E_GUEST_CONFIG', `${file}:${i + 1}: duplicate key '${key}'`);
    const problem = checkProperty(key, value);
    if (problem) throw new GuestvaultError('E_GUEST_CONFIG', `${file}:${i + 1}: ${problem}`);
    props[key] = value;
  }
  const conf: VmConfig = { vmid, props };
  if (description.length) conf.description = description.join('\n');
  if (trailerStart >= 0) conf.trailer = lines.slice(trailerStart).join('\n');
  return conf;
}

/** Why `key: value` is not acceptable, or undefined when it is. */
export function checkProperty(key: string, value: string): string | undefined {
  if (key === 'description') return undefined;
  if (isDiskKey(key)) {
    try {
      parseDisk(key, value);
      return undefined;
    } catch (err) {
      return `${key}: ${(err as Error).message}`;
    }
  }
  const validate = VALIDATORS[key];
  if (validate) {
    const why = validate(value);
    return why ? `${key}: invalid value '${value}': expected ${why}` : undefined;
  }
  if (PASSTHROUGH.test(key)) return undefined;
  return `unknown key '${key}'`;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function formatVmConfig(conf: VmConfig): string {
  const out: string[] = [];
  if (conf.description) for (const l of conf.description.split('\n')) out.push(`#${encodeURIComponent(l).replace(/%20/g, ' ')}`);
  for (const [k, v] of Object.entries(conf.props).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out.push(`${k}: ${v}`);
  let text = out.join('\n') + '\n';
  if (conf.trailer) text += `\n${conf.trailer.replace(/^\n+/, '')}`;
  return text;
}

/** The VM's disks in config order (bus, then index). */
export function vmDisks(conf: VmConfig): DiskSpec[] {
  const order: DiskBus[] = ['ide', 'sata', 'scsi', 'virtio'];
  return Object.entries(conf.props)
    .filter(([k]) => isDiskKey(k))
    .map(([k, v]) => parseDisk(k, v))
    .sort((a, b) => order.indexOf(a.bus) - order.indexOf(b.bus) || a.index - b.index);
}

/** Disks a backup includes: not CD-ROMs, not empty drives, not `backup=0`. */
export function backupDisks(conf: VmConfig): { included: DiskSpec[]; excluded: Array<{ disk: DiskSpec; reason: string }> } {
  const included: DiskSpec[] = [];
  const excluded: Array<{ disk: DiskSpec; reason: string }> = [];
  for (const d of vmDisks(conf)) {
    if (d.options.media === 'cdrom') continue;
    if (d.volid === 'none') continue;
    if (d.options.backup === '0') excluded.push({ disk: d, reason: 'backup=0' });
    else included.push(d);
  }
  return { included, excluded };
}

export function checkVmid(vmid: string): void {
  if (!/^\d+$/.test(vmid) || Number(vmid) < 100 || Number(vmid) > 999999999) {
    throw new GuestvaultError('E_USAGE', `invalid VMID '${vmid}': a number from 100 to 999999999`);
  }
}
