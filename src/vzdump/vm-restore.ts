/**
 * qmrestore: a VM backup (datastore snapshot `vm/<id>/<time>`) back into a VM — as a new VMID, over
 * an existing stopped VM (`force`), or one disk only over the disk's current volume.
 *
 * Nothing half-done is visible: the VMID is reserved with a config that only says `lock: create`
 * (or the existing config gets that lock), the disks go to new volumes, and the real config is
 * written only when every disk is complete. On failure the new volumes and the placeholder config
 * are removed (an existing VM keeps its old config and volumes); old volumes are removed only after
 * the new config is in place.
 */
import { renameSync, rmdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  ChunkPool, SnapshotReader, parseSnapshot, restoreImage, type SnapshotRef,
} from '../datastore/index.js';
import { GuestvaultError, errnoCode } from '../errors.js';
import type { CryptConfig, FixedIndex, ManifestFile } from '../formats/index.js';
import {
  checkNotLocked, clearVmLock, checkVmid, formatDisk, formatDiskSize, isDiskKey, loadVm, parseDisk, parseVmConfig, removeVmConfig, saveVm,
  vmDisks, vmExists, vmStatus, withVmConfigLock, type DiskSpec, type VmConfig,
} from '../guests/index.js';
import {
  DEFAULT_DATASTORE_STORAGE, DEFAULT_DIR_STORAGE, allocateVolume, convertRawImage, freeVolume, imageStorage, resolveVolume, volumeInfo,
  type VolumeFormat,
} from '../storage/index.js';
import { formatSize, logSink, type ProgressSink } from '../tasks/index.js';
import { openBackupStorage } from './backup-storage.js';

export const VM_CONFIG_BLOB = 'qemu-server.conf.blob';
const RESTORE_LOCK = 'create';

/** Where a VM backup is: a datastore storage (storage.cfg id or datastore name) and a snapshot. */
export interface RestoreSource {
  storage: string;
  snapshot: SnapshotRef;
}

/**
 * `STORAGE:backup/vm/<id>/<time>` (a Proxmox PBS volid) or `vm/<id>/<time>` on `defaultStorage`.
 * VMA archive files are refused for now.
 */
export function parseRestoreSource(spec: string, defaultStorage: string = DEFAULT_DATASTORE_STORAGE): RestoreSource {
  if (/\.vma(\.(zst|gz|lzo|bz2))?$/.test(spec)) {
    throw new GuestvaultError('E_USAGE', `'${spec}' is a VMA archive: restoring VMA archives is not supported yet; give a datastore snapshot (STORAGE:backup/vm/<id>/<time> or vm/<id>/<time>)`);
  }
  const volid = /^([A-Za-z][A-Za-z0-9._-]*):backup\/(.+)$/.exec(spec);
  const storage = volid ? volid[1]! : defaultStorage;
  const path = volid ? volid[2]! : spec;
  if (!/^[a-z]+\/[^/]+\/[^/]+$/.test(path)) {
    throw new GuestvaultError('E_USAGE', `'${spec}' is not a VM backup: expected STORAGE:backup/vm/<id>/<time> or vm/<id>/<time> (e.g. local-store:backup/vm/100/2026-11-27T23:00:00Z)`);
  }
  const snapshot = parseSnapshot(path, []);
  if (snapshot.type !== 'vm') {
    throw new GuestvaultError('E_USAGE', `'${spec}' is a ${snapshot.type} backup; qmrestore restores VM backups (vm/<id>/<time>)`);
  }
  return { storage, snapshot };
}

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
  /** Stops the restore (between chunks); everything new is removed as on any failure. */
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

interface DiskArchive {
  file: ManifestFile;
  index: FixedIndex;
}

interface OpenedBackup {
  reader: SnapshotReader;
  storePath: string;
  /** The backed-up config, as the target VMID's. */
  conf: VmConfig;
  /** Disk archives by config key (`drive-<key>.img.fidx`), indexes already checked. */
  archives: Map<string, DiskArchive>;
}

/** Everything read and checked before anything is written. */
function openBackup(source: RestoreSource, vmid: string, crypt: CryptConfig | undefined): OpenedBackup {
  const storage = openBackupStorage(source.storage);
  if (storage.kind !== 'datastore') {
    throw new GuestvaultError('E_STORAGE_TYPE', `storage '${source.storage}' holds archive files: restore an archive by its path (restoring from archives is not supported yet)`);
  }
  const { store } = storage;
  const reader = SnapshotReader.open(store, source.snapshot, crypt);
  const what = `${reader.name}/${VM_CONFIG_BLOB}`;
  if (!reader.manifest.files.some((f) => f.filename === VM_CONFIG_BLOB)) {
    throw new GuestvaultError('E_ARCHIVE_UNKNOWN', `snapshot ${reader.name} has no ${VM_CONFIG_BLOB}: it is not a VM backup`);
  }
  const conf = parseVmConfig(vmid, reader.blob(reader.file(VM_CONFIG_BLOB)).toString('utf8'), what);
  const archives = new Map<string, DiskArchive>();
  for (const file of reader.manifest.files) {
    const key = /^drive-(.+)\.img\.fidx$/.exec(file.filename)?.[1];
    if (key !== undefined) archives.set(key, { file, index: reader.fixedIndex(file) });
  }
  return { reader, storePath: store.path, conf, archives };
}

interface DiskPlan {
  key: string;
  spec: DiskSpec;
  archive: DiskArchive;
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
 * snapshot, unused volumes (they belong to the backed-up VM) and disks that have no archive.
 */
function planWholeVm(backup: OpenedBackup, opts: VmRestoreOptions): { plans: DiskPlan[]; props: Record<string, string> } {
  const props = { ...backup.conf.props };
  for (const k of Object.keys(props)) if (k === 'lock' || k === 'parent' || /^unused\d+$/.test(k)) delete props[k];
  const plans: DiskPlan[] = [];
  for (const spec of vmDisks(backup.conf)) {
    const archive = backup.archives.get(spec.key);
    if (archive) {
      plans.push({ key: spec.key, spec, archive, format: opts.format ?? originalFormat(spec) });
    } else if (spec.volid !== 'none' && spec.options.media !== 'cdrom') {
      delete props[spec.key];
      opts.log(`${spec.key}: '${spec.volid}' is not in the backup (${spec.options.backup === '0' ? 'backup=0' : 'no archive'}): left out of the restored config`);
    }
  }
  for (const [key, archive] of backup.archives) {
    if (plans.some((p) => p.key === key)) continue;
    if (!isDiskKey(key)) {
      opts.warn(`${archive.file.filename}: '${key}' is not a disk this VM config can hold: not restored`);
      continue;
    }
    opts.warn(`${archive.file.filename}: ${key} is not in the backed-up config: restored with default options`);
    plans.push({ key, spec: parseDisk(key, 'none'), archive, format: opts.format ?? 'raw' });
  }
  return { plans, props };
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new GuestvaultError('E_ABORTED', 'restore aborted by a signal');
}

/** Progress into the task log; also where a signal stops a running disk (restoreImage fails and cleans up). */
function progressSink(opts: VmRestoreOptions): ProgressSink {
  const sink = logSink((l) => opts.log(l));
  return {
    update(line) {
      checkAborted(opts.signal);
      sink.update(line);
    },
    clear() {
      sink.clear();
    },
  };
}

interface WriteContext {
  pool: ChunkPool;
  backup: OpenedBackup;
  opts: VmRestoreOptions;
}

/**
 * Write a disk image complete at `path`, replacing the file there only at the end (rename).
 * Raw: chunks go straight into a sparse file, in parallel. qcow2: a sparse raw temp file in the
 * same directory, then `qemu-img convert` (zeros stay unallocated) — simple, at the cost of
 * room for the disk's data twice while it runs.
 */
async function writeDiskImage(ctx: WriteContext, key: string, archive: DiskArchive, path: string, format: VolumeFormat): Promise<void> {
  const { backup, opts } = ctx;
  const size = archive.index.size;
  const started = Date.now();
  const rawTarget = format === 'raw' ? path : `${path}.restore-raw`;
  const converted = `${path}.restore-tmp`;
  try {
    await restoreImage(archive.index, rawTarget, {
      pool: ctx.pool, store: backup.storePath, key: backup.reader.crypt?.encKey, progress: progressSink(opts), label: `${key}: ${archive.file.filename}`, force: true,
    });
    if (format !== 'raw') {
      checkAborted(opts.signal);
      opts.log(`${key}: converting to ${format}`);
      convertRawImage(rawTarget, converted, format);
      renameSync(converted, path);
    }
  } catch (err) {
    if (err instanceof GuestvaultError && err.code !== 'E_ABORTED' && !err.message.includes(backup.reader.name)) {
      throw new GuestvaultError(err.code, `${backup.reader.name}/${archive.file.filename}: ${err.message}`, { cause: err });
    }
    throw err;
  } finally {
    if (format !== 'raw') for (const f of [rawTarget, converted]) rmSync(f, { force: true });
  }
  const secs = Math.max((Date.now() - started) / 1000, 0.001);
  opts.log(`${key}: restored ${formatSize(size)} in ${secs.toFixed(1)}s (${formatSize(size / secs)}/s); ${formatSize(volumeInfo(path).actualSize)} allocated on disk`);
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
  log(`restoring ${backup.reader.name} from storage '${opts.source.storage}' to VM ${vmid}, new volumes on storage '${storage}'`);
  const { plans, props } = planWholeVm(backup, opts);
  const old = await reserveVmid(vmid, opts.force === true);
  if (old) log(`VM ${vmid} exists and is stopped: restoring over it (its volumes are removed once the restore is complete)`);
  const created: string[] = [];
  const disks: RestoredDisk[] = [];
  const pool = new ChunkPool();
  try {
    for (const p of plans) {
      checkAborted(opts.signal);
      const size = p.archive.index.size;
      const volid = allocateVolume(storage, vmid, size, p.format);
      created.push(volid);
      log(`${p.key}: restoring ${p.archive.file.filename} (${formatSize(size)}) to ${volid} (${p.format})`);
      await writeDiskImage({ pool, backup, opts }, p.key, p.archive, resolveVolume(volid).path, p.format);
      const options: Record<string, string> = { ...p.spec.options, size: formatDiskSize(size) };
      if (options.format !== undefined) options.format = p.format;
      props[p.key] = formatDisk({ ...p.spec, volid, options });
      disks.push({ key: p.key, volid, size });
    }
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
  } finally {
    await pool.close();
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
  const archive = backup.archives.get(key);
  if (!archive) {
    throw new GuestvaultError('E_ARCHIVE_UNKNOWN', `snapshot ${backup.reader.name} has no disk ${key} (it has: ${[...backup.archives.keys()].join(', ') || 'no disks'})`);
  }
  const spec = await withVmConfigLock(vmid, async () => {
    const conf = loadVm(vmid);
    checkNotLocked(conf);
    await ensureStopped(vmid);
    const disk = vmDisks(conf).find((d) => d.key === key);
    if (!disk || disk.volid === 'none' || disk.options.media === 'cdrom') {
      throw new GuestvaultError('E_VM_DISK', `VM ${vmid} has no disk ${key} to restore over (add it with \`guestvault vm set ${vmid} --${key} STORAGE:SIZE\`, or restore the whole VM)`);
    }
    const volume = resolveVolume(disk.volid);
    if (volume.vmid !== vmid) {
      throw new GuestvaultError('E_VM_DISK', `disk ${key} of VM ${vmid} is volume ${disk.volid} of VM ${volume.vmid}: not restoring over another VM's volume`);
    }
    conf.props.lock = RESTORE_LOCK;
    saveVm(conf);
    return disk;
  });
  const volume = resolveVolume(spec.volid);
  const size = archive.index.size;
  const pool = new ChunkPool();
  try {
    log(`${key}: restoring ${archive.file.filename} of ${backup.reader.name} (${formatSize(size)}) over ${spec.volid} (${volume.format}) of VM ${vmid}`);
    await writeDiskImage({ pool, backup, opts }, key, archive, volume.path, volume.format);
  } finally {
    await pool.close();
    await clearVmLock(vmid, RESTORE_LOCK).catch((e: Error) => opts.warn(`cannot remove the restore lock of VM ${vmid}: ${e.message}`));
  }
  if (spec.options.size !== undefined && spec.options.size !== formatDiskSize(size)) {
    opts.warn(`${key}: the config says size=${spec.options.size} but the restored disk has ${formatDiskSize(size)} (the config is left as it is)`);
  }
  return { vmid, config: loadVm(vmid).props, disks: [{ key, volid: spec.volid, size }] };
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
    imageStorage(opts.storage ?? DEFAULT_DIR_STORAGE);
    if (!opts.force && vmExists(opts.vmid)) throw existsError(opts.vmid);
  }
  const backup = openBackup(opts.source, opts.vmid, opts.crypt);
  return opts.disk !== undefined ? restoreSingleDisk(backup, opts.disk, opts) : restoreWholeVm(backup, opts);
}
