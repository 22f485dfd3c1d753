/**
 * Restoring from a VMA archive (ours or Proxmox's, plain or compressed): the header gives the
 * config and the devices; then one pass over the archive writes every disk at once, while the
 * decompressor (a separate process) runs ahead. Disks are written sparse: VMA does not store
 * zero blocks, and they stay holes.
 */
import { basename, join } from 'node:path';
import { closeSync, ftruncateSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { GuestvaultError } from '../errors.js';
import { VMA_CLUSTER_SIZE, type VmaDevice } from '../formats/vma/index.js';
import { parseVmConfig } from '../guests/index.js';
import { activateStorage, checkComplete, convertRawImage, describeMissing, readVmaFile, readVmaHeader, volumeInfo, writeAt } from '../storage/index.js';
import { formatSize, logSink, Progress } from '../tasks/index.js';
import { openBackupStorage } from './backup-storage.js';
import { checkAborted, moveIntoTarget, writtenInPlace, type ArchiveSource, type BackupDisk, type OpenedBackup, type RestoreContext } from './restore-source.js';

export const VMA_VM_CONFIG = 'qemu-server.conf';

/**
 * The `#qmdump#map:<key>:<device>:<storage>:<format>:` lines vzdump adds to the config: which
 * archive device is which disk. Returns device name → disk key.
 */
export function parseQmdumpMap(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^#qmdump#map:([^:\s]+):([^:\s]+):[^:\s]*:[^:\s]*:\s*$/.exec(line);
    if (m) map.set(m[2]!, m[1]!);
  }
  return map;
}

async function archivePath(source: ArchiveSource): Promise<string> {
  if (source.storage === undefined) return source.file;
  await activateStorage(source.storage);
  const storage = openBackupStorage(source.storage);
  if (storage.kind !== 'dir') {
    throw new GuestvaultError('E_STORAGE_TYPE', `storage '${source.storage}' is a datastore storage: it holds snapshots (vm/<id>/<time>), not the archive '${source.file}'`);
  }
  return join(storage.dumpDir, source.file);
}

/** Reads the archive's header and config; nothing is written. */
export async function openVmaBackup(source: ArchiveSource, vmid: string, ctx: RestoreContext): Promise<OpenedBackup> {
  const path = await archivePath(source);
  const name = basename(path);
  const { header } = await readVmaHeader(path);
  const config = header.configs.find((c) => c.name === VMA_VM_CONFIG);
  if (!config) {
    throw new GuestvaultError('E_ARCHIVE_UNKNOWN', `archive ${path} has no ${VMA_VM_CONFIG} (it holds ${header.configs.map((c) => c.name).join(', ') || 'no configs'}): it is not a VM backup`);
  }
  for (const c of header.configs) if (c !== config) ctx.warn(`${name}: ${c.name} is not restored (only the VM config is)`);
  const text = config.data.toString('utf8');
  const map = parseQmdumpMap(text);
  // The map lines are vzdump's, not part of the VM's description.
  const conf = parseVmConfig(vmid, text.split('\n').filter((l) => !l.startsWith('#qmdump#')).join('\n'), `${name}/${VMA_VM_CONFIG}`);
  const disks = new Map<string, BackupDisk>();
  const devices = new Map<string, VmaDevice>();
  for (const d of header.devices) {
    const key = map.get(d.name) ?? /^drive-(.+)$/.exec(d.name)?.[1] ?? d.name;
    disks.set(key, { key, label: d.name, size: d.size });
    devices.set(key, d);
  }
  const total = header.devices.reduce((sum, d) => sum + d.size, 0);
  return {
    kind: 'archive',
    name,
    where: path,
    conf,
    disks,
    async write(targets, wctx) {
      const started = Date.now();
      const byId = new Map<number, { fd: number; size: number; raw: string; device: string }>();
      const temps: string[] = [];
      const progress = new Progress(name, total, logSink((l) => wctx.log(l)));
      // Where the archive's data had got to, for an error that cannot name the device itself.
      let last: { device: string; byte: number } | undefined;
      try {
        for (const t of targets) {
          const d = devices.get(t.key)!;
          const inPlace = writtenInPlace(t);
          const raw = inPlace ? t.path : `${t.path}.restore-raw`;
          if (!inPlace) temps.push(raw, `${t.path}.restore-tmp`);
          const fd = openSync(raw, inPlace ? 'r+' : 'w');
          byId.set(d.id, { fd, size: d.size, raw, device: d.name });
          ftruncateSync(fd, d.size);
        }
        const result = await readVmaFile(path, {
          data: (devId, at, data) => {
            const t = byId.get(devId);
            if (!t) return;
            // The device's last block is zero-padded in the archive: stop at the device's end.
            const n = Math.min(data.length, t.size - at);
            last = { device: t.device, byte: at + n };
            // Written on a libuv thread while the archive is decompressed on (readVmaFile waits for it).
            return writeAt(t.fd, data.subarray(0, n), at).catch((err: unknown) => {
              const code = (err as NodeJS.ErrnoException).code;
              throw new GuestvaultError(code === 'ENOSPC' ? 'E_DISK_FULL' : 'E_TARGET_WRITE', `cannot write ${t.raw}: ${code === 'ENOSPC' ? 'no space left on the device' : (err as Error).message}`);
            });
          },
          extent: (e) => {
            checkAborted(wctx.signal);
            progress.add(e.infos.length * VMA_CLUSTER_SIZE);
          },
        }).catch((err: unknown) => {
          if (!(err instanceof GuestvaultError) || err.code !== 'E_VMA_FORMAT' || header.devices.some((d) => err.message.includes(d.name))) throw err;
          const where = last ? `the archive had been read up to ${last.device} byte ${last.byte}` : 'no disk data had been read yet';
          throw new GuestvaultError(err.code, `${err.message} (restoring ${targets.map((t) => `${devices.get(t.key)!.name} to ${t.key}`).join(', ')}; ${where})`, { cause: err });
        });
        progress.finish();
        // Only the disks being restored must be complete (a --disk restore ignores the others).
        const wanted = new Set(byId.keys());
        checkComplete(path, { ...result, devices: result.devices.filter((r) => wanted.has(r.device.id)) });
        for (const r of result.devices) if (!wanted.has(r.device.id) && describeMissing(r)) wctx.warn(`${name}: ${describeMissing(r)} (not restored)`);
        for (const { fd } of byId.values()) closeSync(fd);
        byId.clear();
        for (const t of targets) {
          checkAborted(wctx.signal);
          const raw = `${t.path}.restore-raw`;
          if (t.format === 'raw') {
            if (!writtenInPlace(t)) renameSync(raw, t.path);
          } else {
            wctx.log(`${t.key}: converting to ${t.format}`);
            await convertRawImage(raw, `${t.path}.restore-tmp`, t.format, wctx.signal);
            moveIntoTarget(`${t.path}.restore-tmp`, t);
          }
        }
      } finally {
        for (const { fd } of byId.values()) closeSync(fd);
        for (const f of temps) rmSync(f, { force: true });
      }
      const secs = Math.max((Date.now() - started) / 1000, 0.001);
      for (const t of targets) {
        const size = devices.get(t.key)!.size;
        const allocated = t.format === 'raw' ? statSync(t.path).blocks * 512 : volumeInfo(t.path).actualSize;
        wctx.log(`${t.key}: restored ${formatSize(size)} from ${devices.get(t.key)!.name}; ${formatSize(allocated)} allocated on disk`);
      }
      wctx.log(`read ${name} in ${secs.toFixed(1)}s (${formatSize(total / secs)}/s of disk data)`);
    },
    close: async () => undefined,
  };
}
