/**
 * The QEMU command line for a VM config. Disks use `-blockdev` with fixed node names
 * (`file-<key>` for the protocol node, `drive-<key>` for the format node) and device ids equal to
 * the config key, so QMP commands can name them without asking QEMU first.
 */
import { accessSync, constants } from 'node:fs';
import { GuestvaultError } from '../../errors.js';
import type { Volume } from '../../storage/index.js';
import { parseAgentOption, vmDisks, type DiskSpec, type VmConfig } from '../vm-config.js';
import type { VmPaths } from './vm-paths.js';

export interface AttachedDisk {
  spec: DiskSpec;
  volume: Volume;
}

export function driveNode(key: string): string {
  return `drive-${key}`;
}

export function kvmAvailable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Split `args:` like a shell would for plain words and double/single-quoted strings. */
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/** Boot order from `boot: order=scsi0;net0` (the first disk when unset). */
function bootIndexes(conf: VmConfig, disks: readonly AttachedDisk[]): Map<string, number> {
  const order = /(?:^|,)order=([^,]+)/.exec(conf.props.boot ?? '')?.[1]?.split(';') ?? (disks[0] ? [disks[0].spec.key] : []);
  return new Map(order.map((k, i) => [k, 100 + i]));
}

export function qemuArgs(conf: VmConfig, disks: readonly AttachedDisk[], paths: VmPaths, opts: { paused: boolean }): string[] {
  const p = conf.props;
  const cores = Number(p.cores ?? 1) * Number(p.sockets ?? 1);
  const args = [
    '-name', `${p.name ?? `vm${conf.vmid}`},debug-threads=off`,
    '-accel', kvmAvailable() ? 'kvm' : 'tcg',
    '-machine', p.machine ?? 'q35',
    '-smp', String(cores),
    '-m', String(p.memory ?? 512),
    '-nodefaults', '-display', 'none',
    '-serial', `file:${paths.serialLog}`,
    '-qmp', `unix:${paths.qmp},server=on,wait=off`,
    '-qmp', `unix:${paths.qmpStatus},server=on,wait=off`,
    '-pidfile', paths.pid,
    '-daemonize',
  ];
  if (opts.paused) args.push('-S');
  if (parseAgentOption(p.agent).enabled) {
    args.push(
      '-chardev', `socket,path=${paths.agent},server=on,wait=off,id=qga0`,
      '-device', 'virtio-serial-pci,id=qga-serial',
      '-device', 'virtserialport,chardev=qga0,name=org.qemu.guest_agent.0',
    );
  }
  const boot = bootIndexes(conf, disks);
  if (disks.some((d) => d.spec.bus === 'scsi')) args.push('-device', `${p.scsihw === 'lsi' ? 'lsi' : 'virtio-scsi-pci'},id=scsihw0`);
  if (disks.some((d) => d.spec.bus === 'sata')) args.push('-device', 'ahci,id=ahci0');
  for (const { spec, volume } of disks) {
    const node = driveNode(spec.key);
    args.push('-blockdev', JSON.stringify({ driver: 'file', filename: volume.path, 'node-name': `file-${spec.key}`, discard: 'unmap' }));
    args.push('-blockdev', JSON.stringify({ driver: volume.format, file: `file-${spec.key}`, 'node-name': node, discard: 'unmap' }));
    const bootindex = boot.has(spec.key) ? `,bootindex=${boot.get(spec.key)}` : '';
    if (spec.bus === 'virtio') args.push('-device', `virtio-blk-pci,drive=${node},id=${spec.key}${bootindex}`);
    else if (spec.bus === 'scsi') args.push('-device', `scsi-hd,bus=scsihw0.0,channel=0,scsi-id=0,lun=${spec.index},drive=${node},id=${spec.key}${bootindex}`);
    else if (spec.bus === 'sata') args.push('-device', `ide-hd,bus=ahci0.${spec.index},drive=${node},id=${spec.key}${bootindex}`);
    else throw new GuestvaultError('E_GUEST_CONFIG', `VM ${conf.vmid}: ${spec.key}: IDE disks are not supported, use sataN`);
  }
  if (p.args) args.push(...splitArgs(p.args));
  return args;
}

/** Disks QEMU attaches: every disk with a volume, CD-ROMs excluded (not supported yet). */
export function attachableDisks(conf: VmConfig): DiskSpec[] {
  return vmDisks(conf).filter((d) => d.volid !== 'none' && d.options.media !== 'cdrom');
}
