/**
 * Where a VM backup's disks and config go. The VM side (modes, point-in-time view, NBD reading)
 * is the same for every storage; a sink stores what it reads: a datastore snapshot (chunks,
 * fixed indexes, dirty-bitmap incrementals) or one VMA archive stream.
 */
import { addImageStream, previousImageIndex, sharedChunkPool, streamThreads, summaryLine, touchChunks, type BackupSession, type ImageBase } from '../datastore/index.js';
import { formatSize } from '../tasks/index.js';
import type { NbdDiskReader } from './nbd-disk-reader.js';

export interface SinkDisk {
  key: string;
  size: number;
}

export interface DiskWriteResult {
  readBytes: number;
  /** One line for the task log. */
  summary: string;
  /** Checksum of the stored index (datastore), which the dirty bitmap is synced to. */
  csum?: string;
}

export interface VmBackupSink {
  /** Hook scripts' TARGET (where the backup goes). */
  target: string;
  /** The backup's time (seconds since the epoch). */
  time: number;
  /** Whether dirty bitmaps can make this backup incremental (only a datastore keeps chunks). */
  incremental: boolean;
  /** For a dirty bitmap: the csum of the previous backup of this disk, or why there is none. */
  previousDisk(key: string, size: number): { csum: string } | { reason: string };
  /**
   * Before the point in time is taken: start workers. `dirtyBytes`: an incremental backup that
   * will read about this much (the dirty bitmaps' count); undefined for a full read.
   */
  prepare(dirtyBytes: number | undefined): void;
  /** Once, after the view is exported and before any disk: the disks in order and the config. */
  begin(disks: readonly SinkDisk[], config: Buffer): Promise<void>;
  /** One disk, in the order given to `begin`. `changed` (incremental): only these chunks changed. */
  writeDisk(disk: SinkDisk, reader: NbdDiskReader, incremental: boolean): Promise<DiskWriteResult>;
  /** After the last disk. */
  end(): Promise<void>;
}

/** Incrementals with at most this much changed store their chunks without worker threads. */
const INLINE_STORE_LIMIT = 64 * 1024 * 1024;

/** A datastore snapshot: `drive-<key>.img.fidx` per disk plus `qemu-server.conf.blob`. */
export function datastoreSink(session: BackupSession): VmBackupSink {
  let config: Buffer | undefined;
  // The previous snapshot's index per disk, read once; with the touch of its chunks once started.
  type Base = { digests: Buffer[]; csum: string; touched?: Promise<Set<string>> };
  const bases = new Map<string, Base>();
  const baseOf = (key: string, size: number): Base | { reason: string } => {
    const known = bases.get(`${key}:${size}`);
    if (known) return known;
    const prev = previousImageIndex(session, `drive-${key}.img.fidx`, size);
    if ('digests' in prev) bases.set(`${key}:${size}`, prev);
    return prev;
  };
  return {
    target: `${session.store.name}:vm/${session.snapshot.id}`,
    time: session.snapshot.time,
    incremental: true,
    previousDisk(key, size) {
      const prev = baseOf(key, size);
      return 'reason' in prev ? { reason: prev.reason } : { csum: prev.csum };
    },
    prepare(dirtyBytes) {
      // The daemon's pool is started and warm: it serves every backup, small incrementals too
      // (10 changed chunks of 2 GiB: data phase 0.23 s in this thread, 0.16 s in the pool).
      // Elsewhere, workers start now: their start-up (~150 ms of CPU each) overlaps with setting
      // up the view. A small incremental stores its few chunks in this thread (40 MiB changed
      // of 2 GiB: ~0.15 s instead of ~0.5 s with a worker starting). A larger one starts one
      // worker and more only when chunks queue up: starting all would take CPU from the reads
      // that matter.
      if (sharedChunkPool()) {
        // the daemon's pool, started and warm
      } else if (dirtyBytes !== undefined && dirtyBytes <= INLINE_STORE_LIMIT) session.startPool(0);
      else if (dirtyBytes === undefined) session.startPool(streamThreads());
      else session.startPool(streamThreads(), 1);
      // An incremental touches the chunks it takes over from the previous snapshot. A worker
      // does that now, while the view is set up (QMP round trips, the CPU mostly idle), instead
      // of beside the reads and chunk stores, which keep both cores busy. All of the previous
      // index's chunks: which ones changed is known only once the view is exported, and the
      // others are in use by that snapshot anyway. In this thread (no workers) it would only
      // delay the set-up, so it waits for the stream there.
      if (dirtyBytes === undefined || session.pool.threads === 0) return;
      for (const base of bases.values()) {
        base.touched = touchChunks(session.pool, session.store.path, [...new Set(base.digests.map((d) => d.toString('hex')))]);
        base.touched.catch(() => undefined); // awaited by the stream; not unhandled when the backup fails first
      }
    },
    async begin(_disks, conf) {
      config = conf;
    },
    async writeDisk(disk, reader, incremental) {
      const archive = `drive-${disk.key}.img`;
      let base: ImageBase | undefined;
      if (incremental && reader.changed) {
        const prev = baseOf(disk.key, disk.size);
        if ('digests' in prev) base = { digests: prev.digests, changed: (c) => reader.changed![c] === 1, touched: prev.touched };
      }
      const stats = await addImageStream(session, archive, reader, base);
      const entry = session.files.find((f) => f.filename === `${archive}.fidx`)!;
      return {
        readBytes: stats.readBytes,
        summary: `${summaryLine(stats)}; read ${formatSize(stats.readBytes)}${stats.reusedChunks ? `, reused ${stats.reusedChunks} unchanged chunk(s)` : ''}`,
        csum: entry.csum,
      };
    },
    async end() {
      session.addBlob('qemu-server.conf', config!);
      // The datastore's sync before the manifest runs while the view is torn down.
      session.syncAhead();
    },
  };
}
