/** Restoring from a datastore snapshot `vm/<id>/<time>`: the config blob and one fixed index per disk. */
import { rmSync } from 'node:fs';
import { ChunkPool, SnapshotReader, restoreImage } from '../datastore/index.js';
import { GuestvaultError } from '../errors.js';
import type { CryptConfig, FixedIndex } from '../formats/index.js';
import { parseVmConfig } from '../guests/index.js';
import { convertRawImage, volumeInfo } from '../storage/index.js';
import { formatSize, logSink, type ProgressSink } from '../tasks/index.js';
import { openBackupStorage } from './backup-storage.js';
import { checkAborted, moveIntoTarget, writtenInPlace, type BackupDisk, type DiskTarget, type OpenedBackup, type RestoreContext, type SnapshotSource } from './restore-source.js';

export const VM_CONFIG_BLOB = 'qemu-server.conf.blob';

/** Progress into the task log; also where a signal stops a running disk (restoreImage fails and cleans up). */
function progressSink(ctx: RestoreContext): ProgressSink {
  const sink = logSink((l) => ctx.log(l));
  return {
    update(line) {
      checkAborted(ctx.signal);
      sink.update(line);
    },
    clear() {
      sink.clear();
    },
  };
}

/**
 * Write one disk image complete at `path`, replacing the file there only at the end (rename).
 * Raw: chunks go straight into a sparse file, in parallel. qcow2: a sparse raw temp file in the
 * same directory, then `qemu-img convert` (zeros stay unallocated) — simple, at the cost of
 * room for the disk's data twice while it runs.
 */
async function writeDiskImage(pool: ChunkPool, reader: SnapshotReader, storePath: string, disk: BackupDisk, index: FixedIndex, t: DiskTarget, ctx: RestoreContext): Promise<void> {
  const started = Date.now();
  const rawTarget = t.format === 'raw' ? t.path : `${t.path}.restore-raw`;
  const converted = `${t.path}.restore-tmp`;
  try {
    await restoreImage(index, rawTarget, {
      pool, store: storePath, key: reader.crypt?.encKey, progress: progressSink(ctx), label: `${t.key}: ${disk.label}`, force: true,
      inPlace: writtenInPlace(t),
    });
    if (t.format !== 'raw') {
      checkAborted(ctx.signal);
      ctx.log(`${t.key}: converting to ${t.format}`);
      await convertRawImage(rawTarget, converted, t.format, ctx.signal);
      moveIntoTarget(converted, t);
    }
  } catch (err) {
    if (err instanceof GuestvaultError && err.code !== 'E_ABORTED' && !err.message.includes(reader.name)) {
      throw new GuestvaultError(err.code, `${reader.name}/${disk.label}: ${err.message}`, { cause: err });
    }
    throw err;
  } finally {
    if (t.format !== 'raw') for (const f of [rawTarget, converted]) rmSync(f, { force: true });
  }
  const secs = Math.max((Date.now() - started) / 1000, 0.001);
  ctx.log(`${t.key}: restored ${formatSize(disk.size)} in ${secs.toFixed(1)}s (${formatSize(disk.size / secs)}/s); ${formatSize(volumeInfo(t.path).actualSize)} allocated on disk`);
}

/** Opens a snapshot and checks its config and indexes before anything is written. */
export function openDatastoreBackup(source: SnapshotSource, vmid: string, crypt: CryptConfig | undefined): OpenedBackup {
  const storage = openBackupStorage(source.storage);
  if (storage.kind !== 'datastore') {
    throw new GuestvaultError(
      'E_STORAGE_TYPE',
      `storage '${source.storage}' holds archive files, not snapshots: give an archive as ${source.storage}:backup/<file name> (see \`guestvault storage content ${source.storage}\`)`,
    );
  }
  const { store } = storage;
  const reader = SnapshotReader.open(store, source.snapshot, crypt);
  if (!reader.manifest.files.some((f) => f.filename === VM_CONFIG_BLOB)) {
    throw new GuestvaultError('E_ARCHIVE_UNKNOWN', `snapshot ${reader.name} has no ${VM_CONFIG_BLOB}: it is not a VM backup`);
  }
  const conf = parseVmConfig(vmid, reader.blob(reader.file(VM_CONFIG_BLOB)).toString('utf8'), `${reader.name}/${VM_CONFIG_BLOB}`);
  const disks = new Map<string, BackupDisk>();
  const indexes = new Map<string, FixedIndex>();
  for (const file of reader.manifest.files) {
    const key = /^drive-(.+)\.img\.fidx$/.exec(file.filename)?.[1];
    if (key === undefined) continue;
    const index = reader.fixedIndex(file);
    indexes.set(key, index);
    disks.set(key, { key, label: file.filename, size: index.size });
  }
  const pool = new ChunkPool();
  return {
    kind: 'snapshot',
    name: reader.name,
    where: `storage '${source.storage}'`,
    conf,
    disks,
    async write(targets, ctx) {
      // One disk after the other: a qcow2 disk needs its raw temp file only while it is written.
      for (const t of targets) {
        checkAborted(ctx.signal);
        await writeDiskImage(pool, reader, store.path, disks.get(t.key)!, indexes.get(t.key)!, t, ctx);
      }
    },
    close: () => pool.close(),
  };
}
