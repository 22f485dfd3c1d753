/**
 * Disk volumes on `dir` storages: `<storage>:<vmid>/vm-<vmid>-disk-<n>.<qcow2|raw>` lives at
 * `<path>/images/<vmid>/vm-<vmid>-disk-<n>.<fmt>` (the short form `<storage>:vm-<vmid>-disk-<n>.<fmt>`
 * is accepted too). Volumes are created and inspected with qemu-img.
 */
import { execFile, spawnSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GuestvaultError } from '../errors.js';
import { checkNfsMounted, nfsMountPath, nfsMountProblem } from './nfs.js';
import { findStorage, isFileStorage, loadStorages, storageHasContent, type StorageConfig } from './storage-config.js';

export type VolumeFormat = 'qcow2' | 'raw';

export interface Volume {
  storage: string;
  /** Volume name as in the volid (after the colon). */
  name: string;
  vmid: string;
  path: string;
  format: VolumeFormat;
}

export function splitVolid(volid: string): { storage: string; volume: string } {
  const m = /^([A-Za-z][A-Za-z0-9._-]*):(.+)$/.exec(volid);
  if (!m) throw new GuestvaultError('E_VOLUME', `invalid volume id '${volid}' (expected '<storage>:<volume>')`);
  return { storage: m[1]!, volume: m[2]! };
}

/** Resolve a volid on a dir storage to its file; the storage must exist and hold images. */
export function resolveVolume(volid: string): Volume {
  const { storage, volume } = splitVolid(volid);
  const cfg = imageStorage(storage);
  const m = /^(?:(\d+)\/)?(vm-(\d+)-disk-\d+\.(qcow2|raw))$/.exec(volume);
  if (!m || (m[1] !== undefined && m[1] !== m[3])) {
    throw new GuestvaultError('E_VOLUME', `invalid volume name '${volume}' on storage '${storage}' (expected '<vmid>/vm-<vmid>-disk-<n>.qcow2' or '.raw')`);
  }
  const vmid = m[3]!;
  return { storage, name: volume, vmid, path: join(cfg.path!, 'images', vmid, m[2]!), format: m[4] as VolumeFormat };
}

/** A storage that can hold disk images. */
export function imageStorage(id: string): StorageConfig {
  const cfg = findStorage(id);
  if (!isFileStorage(cfg) || !storageHasContent(cfg, 'images')) {
    throw new GuestvaultError('E_STORAGE_CONTENT', `storage '${id}' (${cfg.type}) cannot hold disk images; use a dir storage with content 'images'`);
  }
  // An NFS storage holds images only while it is mounted (activateStorage mounts it).
  if (cfg.type === 'nfs') checkNfsMounted(cfg);
  return cfg;
}

function qemuImg(args: string[], what: string): string {
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  if (r.error) throw qemuImgMissing(what, r.error);
  if (r.status !== 0) throw qemuImgFailed(what, r.stderr);
  return r.stdout;
}

function qemuImgMissing(what: string, err: Error): GuestvaultError {
  return new GuestvaultError('E_QEMU_MISSING', `cannot run qemu-img to ${what}: ${err.message} (install the Debian package qemu-utils)`);
}

function qemuImgFailed(what: string, stderr: string): GuestvaultError {
  const msg = stderr.trim().replace(/^qemu-img: /, '');
  if (/No space left/.test(msg)) return new GuestvaultError('E_DISK_FULL', `cannot ${what}: no space left on the storage (${msg})`);
  return new GuestvaultError('E_VOLUME', `cannot ${what}: ${msg}`);
}

/** Next free `vm-<vmid>-disk-<n>` name on a storage. */
function nextDiskName(dir: string, vmid: string, format: VolumeFormat): string {
  const used = new Set(existsSync(dir) ? readdirSync(dir).map((f) => /^vm-\d+-disk-(\d+)\./.exec(f)?.[1]).filter((n) => n !== undefined) : []);
  let n = 0;
  while (used.has(String(n))) n++;
  return `vm-${vmid}-disk-${n}.${format}`;
}

/** qemu-img creation options of new and restored volumes. */
function formatOptions(format: VolumeFormat): string[] {
  return format === 'qcow2' ? ['-o', 'cluster_size=65536,lazy_refcounts=on'] : [];
}

/** Create an empty volume of `size` bytes (sparse raw or qcow2); returns its volid. */
export function allocateVolume(storage: string, vmid: string, size: number, format: VolumeFormat = 'qcow2'): string {
  const cfg = imageStorage(storage);
  const dir = join(cfg.path!, 'images', vmid);
  mkdirSync(dir, { recursive: true });
  const file = nextDiskName(dir, vmid, format);
  const path = join(dir, file);
  if (format === 'raw') {
    // A raw volume is a sparse file: no need for a qemu-img process (~0.1 s here).
    try {
      const fd = openSync(path, 'wx');
      try {
        ftruncateSync(fd, size);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      rmSync(path, { force: true });
      throw new GuestvaultError('E_VOLUME_CREATE', `cannot create raw volume ${path}: ${(err as Error).message}`);
    }
  } else {
    qemuImg(['create', '-q', '-f', format, ...formatOptions(format), path, String(size)], `create ${format} volume ${path}`);
  }
  return `${storage}:${vmid}/${file}`;
}

/** Copy an existing image (any format qemu-img reads) into a new volume. */
export function importVolume(storage: string, vmid: string, source: string, format: VolumeFormat = 'qcow2'): string {
  if (!existsSync(source)) throw new GuestvaultError('E_SOURCE_MISSING', `image to import ${source} does not exist`);
  const cfg = imageStorage(storage);
  const dir = join(cfg.path!, 'images', vmid);
  mkdirSync(dir, { recursive: true });
  const file = nextDiskName(dir, vmid, format);
  qemuImg(['convert', '-q', '-O', format, source, join(dir, file)], `import ${source}`);
  return `${storage}:${vmid}/${file}`;
}

export interface VolumeInfo {
  virtualSize: number;
  actualSize: number;
  format: string;
}

/** Size and format from qemu-img (-U: also while QEMU holds the image open). */
export function volumeInfo(path: string): VolumeInfo {
  if (!existsSync(path)) throw new GuestvaultError('E_VOLUME_MISSING', `disk image ${path} does not exist`);
  const info = JSON.parse(qemuImg(['info', '-U', '--output=json', path], `inspect ${path}`)) as { 'virtual-size': number; 'actual-size'?: number; format: string };
  return { virtualSize: info['virtual-size'], actualSize: info['actual-size'] ?? statSync(path).blocks * 512, format: info.format };
}

export function freeVolume(volid: string): void {
  const v = resolveVolume(volid);
  rmSync(v.path, { force: true });
}

/**
 * Write a raw image into a file of `format` (qemu-img convert): runs of zeros of 4 KiB or more
 * stay holes (raw) or unallocated clusters (qcow2). `target` is created or replaced.
 */
export function convertRawImage(source: string, target: string, format: VolumeFormat, signal?: AbortSignal): Promise<void> {
  // Not spawnSync: a restore may run inside the daemon, whose other tasks (and the abort of
  // this one) must go on during a conversion of many GiB.
  const what = `convert ${source} to ${format}`;
  return new Promise((resolve, reject) => {
    execFile('qemu-img', ['convert', '-q', '-f', 'raw', '-O', format, '-S', '4k', ...formatOptions(format), source, target], { signal, maxBuffer: 1 << 20 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      if (signal?.aborted) return reject(new GuestvaultError('E_ABORTED', 'restore aborted by a signal'));
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return reject(qemuImgMissing(what, err));
      reject(qemuImgFailed(what, stderr));
    });
  });
}

/**
 * Temporary files a killed restore left in the VM's image directories (`*.restore-raw`,
 * `*.restore-tmp`); returns what was removed. Empty image directories go too.
 */
export function removeRestoreLeftovers(vmid: string): string[] {
  const removed: string[] = [];
  for (const s of loadStorages()) {
    if (!isFileStorage(s) || !storageHasContent(s, 'images')) continue;
    if (s.type === 'nfs' && nfsMountProblem(s)) continue;
    const dir = join(s.type === 'nfs' ? nfsMountPath(s) : s.path!, 'images', vmid);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) {
      if (!/\.restore-(raw|tmp)$/.test(f)) continue;
      rmSync(join(dir, f), { force: true });
      removed.push(join(dir, f));
    }
    if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true, force: true });
  }
  return removed;
}
