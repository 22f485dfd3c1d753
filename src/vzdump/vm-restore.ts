/**
 * qmrestore: a VM backup (datastore snapshot `vm/<id>/<time>` or VMA archive) back into a VM — as
 * a new VMID, over an existing stopped VM (`force`), or one disk only over the disk's current volume.
 *
 * Nothing half-done is visible: the VMID is reserved with a config that only says `lock: create`
 * (or the existing config gets that lock), the disks go to new volumes, and the real config is
 * written only when every disk is complete. On failure the new volumes and the placeholder config
 * are removed (an existing VM keeps its old config and volumes); old volumes are removed only after
 * the new config is in place.
 */
import { rmdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { GuestvaultError, errnoCode } from '../errors.js';
import type { CryptConfig } from '../formats/index.js';
import {
  checkNotLocked, clearVmLock, checkVmid, formatDisk, formatDiskSize, isDiskKey, loadVm, parseDisk, removeVmConfig, saveVm,
  vmDisks, vmExists, vmStatus, withVmConfigLock, type DiskSpec, type VmConfig,
} from '../guests/index.js';
import {
  DEFAULT_DIR_STORAGE, activateStorage, allocateVolume, freeVolume, imageStorage, resolveVolume, type VolumeFormat,
} from '../storage/index.js';
import { formatSize } from '../tasks/index.js';
import { openDatastoreBackup } from './restore-datastore.js';
import { checkAborted, type BackupDisk, type DiskTarget, type OpenedBackup, type RestoreSource } from './restore-source.js';
import { openVmaBackup } from './restore-vma.js';

export { parseRestoreSource, type RestoreSource } from './restore-source.js';
export { VM_CONFIG_BLOB } from './restore-datastore.js';

const RESTORE_LOCK = 'create';

export interface VmRestoreOptions {
  source: RestoreSource;
  vmid: string;
  /** Dir storage for the new volumes (default `local`); not with `disk`. */
  storage?: string;
  /** Restore over an existing, stopped VM. */
  force?: boolean;
  /** Restore only this disk, over the current volume of an existing, stopped VM; its config stays. */
  disk?: string;
  /** Format of new volumes (default: that of the backed-up volume, else raw); not with `disk`. */
  format?: VolumeFormat;
  /** Key of an encrypted snapshot. */
  crypt?: CryptConfig;
  log: (line: string) => void;
  warn: (line: string) => void;
  /** Stops the restore; everything new is removed as on any failure. */
  signal?: AbortSignal;
}

export interface RestoredDisk {
  key: string;
  volid: string;
  size: number;
}

export interface VmRestoreResult {
  vmid: string;
  config: Record<string, string>;
  disks: RestoredDisk[];
}

async function openBackup(opts: VmRestoreOptions): Promise<OpenedBackup> {
  if (opts.source.kind === 'snapshot') return openDatastoreBackup(opts.source, opts.vmid, opts.crypt);
  if (opts.crypt) throw new GuestvaultError('E_USAGE', '--keyfile does not apply to VMA archives: they are not encrypted');
  return openVmaBackup(opts.source, opts.vmid, opts);
}

interface DiskPlan {
  key: string;
  spec: DiskSpec;
  disk: BackupDisk;
  format: VolumeFormat;
}

/** The format the backed-up volume had: its extension, else its `format=` option, else raw. */
function originalFormat(spec: DiskSpec): VolumeFormat {
  const ext = /\.(qcow2|raw)$/.exec(spec.volid)?.[1];
  if (ext) return ext as VolumeFormat;
  return spec.options.format === 'qcow2' ? 'qcow2' : 'raw';
}

/**
 * Which disks to restore, and the config without what does not carry over: the lock, the parent
 * snapshot, unused volumes (they belong to the backed-up VM) and disks that have no image.
 */
function planWholeVm(backup: OpenedBackup, opts: VmRestoreOptions): { plans: DiskPlan[]; props: Record<string, string> } {
  const props = { ...backup.conf.props };
  for (const k of Object.keys(props)) if (k === 'lock' || k === 'parent' || /^unused\d+$/.test(k)) delete props[k];
  const plans: DiskPlan[] = [];
  for (const spec of vmDisks(backup.conf)) {
    const disk = backup.disks.get(spec.key);
    if (disk) {
      plans.push({ key: spec.key, spec, disk, format: opts.format ?? originalFormat(spec) });
    } else if (spec.volid !== 'none' && spec.options.media !== 'cdrom') {
      delete props[spec.key];
      opts.log(`${spec.key}: '${spec.volid}' is not in the backup (${spec.options.backup === '0' ? 'backup=0' : 'no image'}): left out of the restored config`);
    }
  }
  for (const [key, disk] of backup.disks) {
    if (plans.some((p) => p.key === key)) continue;
    if (!isDiskKey(key)) {
      opts.warn(`${disk.label}: '${key}' is not a disk this VM config can hold: not restored`);
      continue;
    }
    opts.warn(`${disk.label}: ${key} is not in the backed-up config: restored with default options`);
    plans.push({ key, spec: parseDisk(key, 'none'), disk, format: opts.format ?? 'raw' });
  }
  return { plans, props };
}

/** Volumes of a config that belong to its VM (disks and unused ones on dir storages). */
function ownedVolumes(conf: VmConfig): Array<{ key: string; volid: string }> {
  const out: Array<{ key: string; volid: string }> = [];
  for (const [key, value] of Object.entries(conf.props)) {
    if (!isDiskKey(key) && !/^unused\d+$/.test(key)) continue;
    const volid = value.split(',')[0]!;
    if (volid === 'none' || /(^|,)media=cdrom(,|$)/.test(value)) continue;
    try {
      if (resolveVolume(volid).vmid === conf.vmid) out.push({ key, volid });
    } catch {
      // Not a volume of a dir storage we manage: not ours to remove.
    }
  }
  return out;
}

async function ensureStopped(vmid: string): Promise<void> {
  if ((await vmStatus(vmid)).status === 'running') {
    throw new GuestvaultError('E_VM_RUNNING', `VM ${vmid} is running: a running VM cannot be restored over; stop it first (\`guestvault vm stop ${vmid}\`)`);
  }
}

function existsError(vmid: string): GuestvaultError {
  return new GuestvaultError('E_GUEST_EXISTS', `VM ${vmid} already exists; use --force to restore over it (it must be stopped), or choose another VMID`);
}

/** Reserve the VMID (placeholder config) or lock the existing VM; returns the old config if any. */
async function reserveVmid(vmid: string, force: boolean): Promise<VmConfig | undefined> {
  return withVmConfigLock(vmid, async () => {
    if (!vmExists(vmid)) {
      saveVm({ vmid, props: { lock: RESTORE_LOCK } });
      return undefined;
    }
    if (!force) throw existsError(vmid);
    const conf = loadVm(vmid);
    checkNotLocked(conf);
    await ensureStopped(vmid);
    const old = { ...conf, props: { ...conf.props } };
    conf.props.lock = RESTORE_LOCK;
    saveVm(conf);
    return old;
  });
}

/** Undo `reserveVmid`: remove the placeholder, or the lock of the old config. */
async function releaseVmid(vmid: string, old: VmConfig | undefined): Promise<void> {
  if (old) {
    await clearVmLock(vmid, RESTORE_LOCK);
    return;
  }
  await withVmConfigLock(vmid, () => {
    if (vmExists(vmid) && loadVm(vmid).props.lock === RESTORE_LOCK) removeVmConfig(vmid);
  });
}

async function restoreWholeVm(backup: OpenedBackup, opts: VmRestoreOptions): Promise<VmRestoreResult> {
  const { vmid, log } = opts;
  const storage = opts.storage ?? DEFAULT_DIR_STORAGE;
  log(`restoring ${backup.name} from ${backup.where} to VM ${vmid}, new volumes on storage '${storage}'`);
  const { plans, props } = planWholeVm(backup, opts);
  const old = await reserveVmid(vmid, opts.force === true);
  if (old) log(`VM ${vmid} exists and is stopped: restoring over it (its volumes are removed once the restore is complete)`);
  const created: string[] = [];
  const disks: RestoredDisk[] = [];
  try {
    const targets: DiskTarget[] = [];
    for (const p of plans) {
      checkAborted(opts.signal);
      const volid = allocateVolume(storage, vmid, p.disk.size, p.format);
      created.push(volid);
      log(`${p.key}: restoring ${p.disk.label} (${formatSize(p.disk.size)}) to ${volid} (${p.format})`);
      targets.push({ key: p.key, path: resolveVolume(volid).path, format: p.format, fresh: true });
      const options: Record<string, string> = { ...p.spec.options, size: formatDiskSize(p.disk.size) };
      if (options.format !== undefined) options.format = p.format;
      props[p.key] = formatDisk({ ...p.spec, volid, options });
      disks.push({ key: p.key, volid, size: p.disk.size });
    }
    await backup.write(targets, opts);
    checkAborted(opts.signal);
    if (old) keepExcludedDisks(old, props, log);
    const conf: VmConfig = { vmid, props, ...(backup.conf.description !== undefined ? { description: backup.conf.description } : {}) };
    await withVmConfigLock(vmid, () => {
      if (!vmExists(vmid) || loadVm(vmid).props.lock !== RESTORE_LOCK) {
        throw new GuestvaultError('E_GUEST_LOCKED', `the restore lock of VM ${vmid} was removed while restoring; not writing the restored config`);
      }
      saveVm(conf);
    });
    log(`VM ${vmid}: config written with ${disks.length} disk(s)`);
  } catch (err) {
    log(`restore failed: removing the ${created.length} new volume(s)${old ? ` and the lock of VM ${vmid} (its old config and volumes stay)` : ` and the config of VM ${vmid}`}`);
    for (const volid of created) {
      try {
        const dir = dirname(resolveVolume(volid).path);
        freeVolume(volid);
        removeEmptyDir(dir);
      } catch (e) {
        opts.warn(`cannot remove new volume ${volid}: ${(e as Error).message}`);
      }
    }
    await releaseVmid(vmid, old).catch((e: Error) => opts.warn(`cannot release VM ${vmid}: ${e.message}`));
    throw err;
  }
  if (old) {
    const kept = new Set(Object.values(props).map((v) => v.split(',')[0]));
    for (const v of ownedVolumes(old).filter((o) => !kept.has(o.volid))) {
      try {
        freeVolume(v.volid);
        log(`removed old volume ${v.volid} (was ${v.key})`);
      } catch (e) {
        opts.warn(`cannot remove old volume ${v.volid}: ${(e as Error).message}`);
      }
    }
  }
  return { vmid, config: props, disks };
}

/**
 * Restoring over an existing VM keeps the disks that were excluded from backups (backup=0), as
 * Proxmox does: they hold data the backup never had. Each stays under its key when the restored
 * config leaves that key free, otherwise it becomes an unusedN volume.
 */
function keepExcludedDisks(old: VmConfig, props: Record<string, string>, log: (m: string) => void): void {
  for (const [key, value] of Object.entries(old.props)) {
    if (!isDiskKey(key)) continue;
    const spec = parseDisk(key, value);
    if (spec.options.backup !== '0' || spec.volid === 'none') continue;
    if (props[key] === undefined) {
      props[key] = value;
      log(`${key}: kept '${spec.volid}' of the existing VM (backup=0, not in the backup)`);
    } else {
      let n = 0;
      while (props[`unused${n}`] !== undefined) n++;
      props[`unused${n}`] = spec.volid;
      log(`${key}: kept '${spec.volid}' of the existing VM as unused${n} (backup=0; ${key} is taken by the restored disk)`);
    }
  }
}

function removeEmptyDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch (err) {
    if (errnoCode(err) !== 'ENOTEMPTY' && errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'EEXIST') throw err;
  }
}

async function restoreSingleDisk(backup: OpenedBackup, key: string, opts: VmRestoreOptions): Promise<VmRestoreResult> {
  const { vmid, log } = opts;
  const disk = backup.disks.get(key);
  if (!disk) {
    throw new GuestvaultError('E_ARCHIVE_UNKNOWN', `${backup.kind} ${backup.name} has no disk ${key} (it has: ${[...backup.disks.keys()].join(', ') || 'no disks'})`);
  }
  const spec = await withVmConfigLock(vmid, async () => {
    const conf = loadVm(vmid);
    checkNotLocked(conf);
    await ensureStopped(vmid);
    const current = vmDisks(conf).find((d) => d.key === key);
    if (!current || current.volid === 'none' || current.options.media === 'cdrom') {
      throw new GuestvaultError('E_VM_DISK', `VM ${vmid} has no disk ${key} to restore over (add it with \`guestvault vm set ${vmid} --${key} STORAGE:SIZE\`, or restore the whole VM)`);
    }
    const volume = resolveVolume(current.volid);
    if (volume.vmid !== vmid) {
      throw new GuestvaultError('E_VM_DISK', `disk ${key} of VM ${vmid} is volume ${current.volid} of VM ${volume.vmid}: not restoring over another VM's volume`);
    }
    conf.props.lock = RESTORE_LOCK;
    saveVm(conf);
    return current;
  });
  const volume = resolveVolume(spec.volid);
  try {
    log(`${key}: restoring ${disk.label} of ${backup.name} (${formatSize(disk.size)}) over ${spec.volid} (${volume.format}) of VM ${vmid}`);
    await backup.write([{ key, path: volume.path, format: volume.format }], opts);
  } finally {
    await clearVmLock(vmid, RESTORE_LOCK).catch((e: Error) => opts.warn(`cannot remove the restore lock of VM ${vmid}: ${e.message}`));
  }
  if (spec.options.size !== undefined && spec.options.size !== formatDiskSize(disk.size)) {
    opts.warn(`${key}: the config says size=${spec.options.size} but the restored disk has ${formatDiskSize(disk.size)} (the config is left as it is)`);
  }
  return { vmid, config: loadVm(vmid).props, disks: [{ key, volid: spec.volid, size: disk.size }] };
}

/** Restore a VM backup: the whole VM (new or, with `force`, over a stopped one), or one disk. */
export async function restoreVm(opts: VmRestoreOptions): Promise<VmRestoreResult> {
  checkVmid(opts.vmid);
  if (opts.disk !== undefined) {
    if (!isDiskKey(opts.disk)) throw new GuestvaultError('E_USAGE', `--disk ${opts.disk}: not a disk key (scsiN, virtioN or sataN)`);
    if (opts.storage !== undefined) throw new GuestvaultError('E_USAGE', '--storage does not apply to --disk: the disk is restored over its current volume');
    if (opts.format !== undefined) throw new GuestvaultError('E_USAGE', '--format does not apply to --disk: the disk keeps the format of its current volume');
    if (!vmExists(opts.vmid)) {
      throw new GuestvaultError('E_GUEST_UNKNOWN', `VM ${opts.vmid} does not exist: --disk restores one disk of an existing VM (restore the whole VM without --disk)`);
    }
  } else {
    await activateStorage(opts.storage ?? DEFAULT_DIR_STORAGE);
    imageStorage(opts.storage ?? DEFAULT_DIR_STORAGE);
    if (!opts.force && vmExists(opts.vmid)) throw existsError(opts.vmid);
  }
  const backup = await openBackup(opts);
  try {
    return opts.disk !== undefined ? await restoreSingleDisk(backup, opts.disk, opts) : await restoreWholeVm(backup, opts);
  } finally {
    await backup.close();
  }
}
