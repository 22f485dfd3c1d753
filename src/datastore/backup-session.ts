import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { GuestvaultError } from '../errors.js';
import {
  DEFAULT_FIXED_CHUNK_SIZE, blobBytes, decodeFixedIndex, encodeBlob, encodeFixedIndex, fixedChunkCount, signManifest,
  type CryptConfig, type CryptMode, type FixedIndex, type Manifest, type ManifestFile,
} from '../formats/index.js';
import { Progress, silentSink, type ProgressSink } from '../tasks/index.js';
import { ChunkPool, sharedChunkPool } from './chunk-pool.js';
import type { StoreResult } from './chunk-task.js';
import type { Datastore, Notice } from './datastore.js';
import { imageSourceSize, sameIdentity, sourceIdentity, type SourceIdentity } from './image-source.js';
import { chunkPath, touchChunk } from './chunk-store.js';
import { acquireLock, acquireLockWait, type HeldLock } from './lock-file.js';
import { StoreFlusher } from './store-flusher.js';
import { formatBackupTime, formatGroup, formatSnapshot, type GroupRef, type SnapshotRef } from './names.js';

export interface ArchiveStats {
  archive: string;
  /** Logical size of the archive's data. */
  size: number;
  chunks: number;
  newChunks: number;
  duplicateChunks: number;
  zeroChunks: number;
  /** Bytes of the chunks this backup wrote (raw and as stored). */
  newBytes: number;
  newEncodedBytes: number;
  seconds: number;
  /** The source was unchanged since the previous snapshot and was not read. */
  unchanged?: boolean;
}

export interface SessionOptions {
  crypt?: CryptConfig;
  owner: string;
  notice?: Notice;
  progress?: ProgressSink;
  pool?: ChunkPool;
  /** Snapshot time (epoch seconds) instead of now, as proxmox-backup-client's --backup-time. */
  backupTime?: number;
  /** Wait this long for a running backup of the same group (vzdump's lockwait); default: refuse at once. */
  lockWaitMs?: number;
}

const ARCHIVE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/**
 * One backup into one group. The snapshot directory is written under the group lock and only
 * becomes a snapshot when `finish` renames its manifest into place; `abort` (or the next
 * session, after a crash) removes what was written.
 */
export class BackupSession {
  readonly files: ManifestFile[] = [];
  /** Identity of each file source, kept in the manifest so the next backup can skip it when unchanged. */
  private readonly sources: Record<string, SourceIdentity> = {};
  readonly stats: ArchiveStats[] = [];
  private finished = false;
  private ownPool: boolean;
  private poolInstance: ChunkPool | undefined;
  private readonly flusher: StoreFlusher;
  /** A sync started early by `syncAhead`; dropped by any write after it. */
  private syncedAhead: Promise<void> | undefined;

  private constructor(
    readonly store: Datastore,
    readonly snapshot: SnapshotRef,
    private readonly lock: HeldLock,
    private readonly opts: SessionOptions,
    readonly previous: SnapshotRef | undefined,
    /** The manifest of `previous`, the group's last snapshot when this session started. */
    readonly previousManifest: Manifest | undefined,
  ) {
    // A long-running process's warm pool (the daemon's) serves every backup it runs.
    this.poolInstance = opts.pool ?? sharedChunkPool();
    this.ownPool = !this.poolInstance;
    this.flusher = new StoreFlusher(store.path);
  }

  static async start(store: Datastore, group: GroupRef, opts: SessionOptions): Promise<BackupSession> {
    const lock = opts.lockWaitMs
      ? await acquireLockWait(store.groupLockPath(group), `backup of ${formatGroup(group)}`, `backup group ${formatGroup(group)}`, opts.lockWaitMs, opts.notice)
      : acquireLock(store.groupLockPath(group), `backup of ${formatGroup(group)}`, `backup group ${formatGroup(group)}`, opts.notice);
    try {
      store.ensureGroup(group, opts.owner);
      store.removeUnfinished(group, opts.notice);
      const last = store.lastSnapshot(group, opts.notice);
      if (last && opts.crypt) {
        const fp = last.manifest.unprotected['key-fingerprint'];
        if (typeof fp === 'string' && fp !== opts.crypt.fingerprintString()) {
          opts.notice?.(`previous snapshot ${formatSnapshot(last.ref)} used another key (${fp}); nothing can be reused from it`);
        }
      }
      let time = opts.backupTime ?? Math.floor(Date.now() / 1000);
      if (opts.backupTime !== undefined && last && opts.backupTime <= last.ref.time) {
        throw new GuestvaultError('E_BACKUP_TIME', `backup time ${formatBackupTime(opts.backupTime)} is not newer than the last backup of ${formatGroup(group)} (${formatBackupTime(last.ref.time)})`);
      }
      if (last && time <= last.ref.time) {
        if (last.ref.time - time > 5) {
          throw new GuestvaultError('E_BACKUP_TIME', `the last backup of ${formatGroup(group)} (${formatBackupTime(last.ref.time)}) is newer than now: check the clock`);
        }
        // Snapshot names have one-second resolution: wait for the next free second.
        await new Promise((r) => setTimeout(r, (last.ref.time + 1) * 1000 - Date.now() + 5));
        time = last.ref.time + 1;
      }
      const snapshot: SnapshotRef = { ...group, time };
      // Prune and forget read this to leave the base of a running backup alone.
      lock.update({ snapshot: time, ...(last ? { base: last.ref.time } : {}) });
      mkdirSync(store.snapshotDir(snapshot));
      return new BackupSession(store, snapshot, lock, opts, last?.ref, last?.manifest);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /** Workers start on first use: a backup that reads nothing (unchanged sources) needs none. */
  get pool(): ChunkPool {
    this.poolInstance ??= new ChunkPool();
    return this.poolInstance;
  }

  /**
   * Start `eager` of at most `threads` workers now (no effect once they run). 0 threads: chunks
   * are stored in this thread, even when a shared pool is there (for a few chunks that is
   * faster than handing them over: the workers would compete with QEMU for the CPU).
   */
  startPool(threads: number, eager = threads): ChunkPool {
    if (threads === 0 && !this.ownPool) {
      this.poolInstance = new ChunkPool(0);
      this.ownPool = true;
    }
    this.poolInstance ??= new ChunkPool(threads, eager);
    return this.poolInstance;
  }

  get dir(): string {
    return this.store.snapshotDir(this.snapshot);
  }

  get cryptMode(): CryptMode {
    return this.opts.crypt ? 'encrypt' : 'none';
  }

  get crypt(): CryptConfig | undefined {
    return this.opts.crypt;
  }

  get progressSink(): ProgressSink {
    return this.opts.progress ?? silentSink;
  }

  checkArchiveName(file: string): void {
    const base = file.replace(/\.(fidx|didx|blob)$/, '');
    if (!ARCHIVE_NAME.test(base) || base === 'index.json' || this.files.some((f) => f.filename === file)) {
      throw new GuestvaultError('E_USAGE', `invalid or duplicate archive name '${base}'`);
    }
  }

  /**
   * Back up a raw image file or block device as `<name>.fidx` with 4 MiB chunks. A regular file
   * whose identity and times are those recorded by the previous snapshot is not read again
   * (as restic does), unless `skipUnchanged` is false.
   */
  async addImage(name: string, source: string, skipUnchanged = true): Promise<ArchiveStats> {
    const file = `${name}.fidx`;
    this.checkArchiveName(file);
    const size = imageSourceSize(source);
    const identity = sourceIdentity(source);
    if (identity) this.sources[file] = identity;
    if (skipUnchanged && identity) {
      const reused = this.reuseUnchanged(file, name, identity);
      if (reused) return reused;
    }
    const chunkSize = DEFAULT_FIXED_CHUNK_SIZE;
    const count = fixedChunkCount(size, chunkSize);
    const digests: Buffer[] = new Array(count);
    const stats = emptyStats(name, size);
    const started = Date.now();
    const progress = new Progress(name, size, this.progressSink);
    const key = this.opts.crypt?.encKey;
    await runBounded(this.pool, count, (i) => {
      const offset = i * chunkSize;
      const length = Math.min(chunkSize, size - offset);
      return this.pool.run({ op: 'store-range', store: this.store.path, source, offset, length, key, compress: true }).then((r) => {
        digests[i] = Buffer.from(r.digest, 'hex');
        this.chunkStored(stats, r);
        progress.add(length);
      });
    });
    progress.finish();
    stats.seconds = (Date.now() - started) / 1000;
    const index = encodeFixedIndex({ size, chunkSize, digests, ctime: Math.floor(Date.now() / 1000) });
    this.writeFileAtomic(file, index);
    this.files.push({ filename: file, 'crypt-mode': this.cryptMode, size, csum: index.subarray(32, 64).toString('hex') });
    this.stats.push(stats);
    return stats;
  }

  /** Account for a stored chunk (stats, background flushing). */
  chunkStored(stats: ArchiveStats, r: StoreResult): void {
    countChunk(stats, r);
    if (r.status === 'new') {
      this.syncedAhead = undefined;
      this.flusher.written(r.encodedSize, chunkPath(this.store.path, r.digest));
    }
  }

  /**
   * Everything is written: start the sync that `finish` needs now, so that it runs while the
   * caller does other work (a VM backup tears its view down). A write after this call makes
   * `finish` sync again.
   */
  syncAhead(): void {
    const ahead = this.flusher.flush();
    ahead.catch(() => undefined); // awaited by finish
    this.syncedAhead = ahead;
  }

  /**
   * The previous snapshot's index for `file`, when its source is provably the same file with the
   * same size and times, was verified ok or not at all, used the same key, and all its chunks
   * are still present.
   */
  private reuseUnchanged(file: string, name: string, identity: SourceIdentity): ArchiveStats | undefined {
    const prev = this.previousManifest;
    if (!prev || !this.previous) return undefined;
    const prevSources = prev.unprotected.sources as Record<string, SourceIdentity> | undefined;
    const recorded = prevSources?.[file];
    if (!recorded || !sameIdentity(recorded, identity)) return undefined;
    if ((prev.unprotected.verify_state as { state?: string } | undefined)?.state === 'failed') return undefined;
    const entry = prev.files.find((f) => f.filename === file);
    if (!entry || entry['crypt-mode'] !== this.cryptMode) return undefined;
    if (this.opts.crypt && prev.unprotected['key-fingerprint'] !== this.opts.crypt.fingerprintString()) return undefined;
    const started = Date.now();
    let index: FixedIndex;
    try {
      index = decodeFixedIndex(readFileSync(join(this.store.snapshotDir(this.previous), file)), `${formatSnapshot(this.previous)}/${file}`);
    } catch {
      return undefined;
    }
    if (index.csum.toString('hex') !== entry.csum) return undefined;
    // Touching (not just checking) every chunk tells a concurrent garbage collection that this
    // backup uses them, exactly as writing them would.
    const unique = new Set(index.digests.map((d) => d.toString('hex')));
    for (const d of unique) if (!touchChunk(chunkPath(this.store.path, d))) return undefined;
    const encoded = encodeFixedIndex({ size: index.size, chunkSize: index.chunkSize, digests: index.digests, ctime: Math.floor(Date.now() / 1000) });
    this.writeFileAtomic(file, encoded);
    this.files.push({ ...entry });
    const stats: ArchiveStats = { ...emptyStats(name, index.size), chunks: index.digests.length, duplicateChunks: index.digests.length, unchanged: true };
    stats.seconds = (Date.now() - started) / 1000;
    this.stats.push(stats);
    return stats;
  }

  /** Store small data (a config file, a catalog) as `<name>.blob`. */
  addBlob(name: string, data: Buffer): void {
    const file = `${name}.blob`;
    this.checkArchiveName(file);
    const bytes = blobBytes(encodeBlob(data, { compress: true, crypt: this.opts.crypt }));
    this.writeFileAtomic(file, bytes);
    this.files.push({ filename: file, 'crypt-mode': this.cryptMode, size: bytes.length, csum: createHash('sha256').update(bytes).digest('hex') });
  }

  /** Register an index written by a helper (e.g. the tree archiver). */
  addIndexFile(entry: ManifestFile, stats: ArchiveStats): void {
    this.files.push(entry);
    this.stats.push(stats);
  }

  /**
   * Write a file of the snapshot (an index, a blob) under a temporary name, then rename it. No
   * fsync here: `finish` syncs the whole datastore before the manifest, which covers these too
   * (an fsync each cost ~15 ms of a small incremental).
   */
  writeFileAtomic(file: string, data: Buffer): void {
    this.syncedAhead = undefined;
    const path = join(this.dir, file);
    const tmp = `${path}.tmp`;
    try {
      writeFileSync(tmp, data);
      renameSync(tmp, path);
    } catch (err) {
      rmSync(tmp, { force: true });
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
        throw new GuestvaultError('E_DISK_FULL', `datastore '${this.store.name}' is full: no space left to write ${file}`);
      }
      throw err;
    }
  }

  /** Write the manifest last: from this moment on the snapshot exists. */
  async finish(unprotectedExtra: Record<string, unknown> = {}): Promise<SnapshotRef> {
    if (this.files.length === 0) throw new GuestvaultError('E_USAGE', 'nothing to back up');
    const totals = this.stats.reduce(
      (a, s) => ({ count: a.count + s.newChunks, size: a.size + s.newBytes, compressed_size: a.compressed_size + s.newEncodedBytes, duplicates: a.duplicates + s.duplicateChunks }),
      { count: 0, size: 0, compressed_size: 0, duplicates: 0 },
    );
    let manifest: Manifest = {
      'backup-type': this.snapshot.type,
      'backup-id': this.snapshot.id,
      'backup-time': this.snapshot.time,
      files: this.files,
      unprotected: { chunk_upload_stats: totals, ...(Object.keys(this.sources).length ? { sources: this.sources } : {}), ...unprotectedExtra },
    };
    if (this.opts.crypt) manifest = signManifest(manifest, this.opts.crypt);
    // Chunks are written without fsync; one syncfs of the datastore before the manifest makes
    // sure everything the manifest references is on disk (PBS's default sync-level).
    await (this.syncedAhead ?? this.flusher.flush());
    this.store.writeManifest(this.snapshot, manifest);
    this.finished = true;
    await this.close();
    return this.snapshot;
  }

  /** Remove everything this session wrote (chunks stay; garbage collection handles them). */
  async abort(): Promise<void> {
    if (!this.finished) rmSync(this.dir, { recursive: true, force: true });
    await this.close();
  }

  /** Synchronous part of abort, for signal handlers. */
  abortSync(): void {
    if (!this.finished) rmSync(this.dir, { recursive: true, force: true });
    this.lock.release();
  }

  private async close(): Promise<void> {
    this.lock.release();
    if (this.ownPool) await this.poolInstance?.close();
  }
}

export function emptyStats(archive: string, size: number): ArchiveStats {
  return { archive, size, chunks: 0, newChunks: 0, duplicateChunks: 0, zeroChunks: 0, newBytes: 0, newEncodedBytes: 0, seconds: 0 };
}

export function countChunk(stats: ArchiveStats, r: StoreResult): void {
  stats.chunks++;
  if (r.zero) stats.zeroChunks++;
  if (r.status === 'new') {
    stats.newChunks++;
    stats.newBytes += r.size;
    stats.newEncodedBytes += r.encodedSize;
  } else {
    stats.duplicateChunks++;
  }
}

/**
 * Run `count` jobs through the pool with bounded concurrency; stops dispatching at the first
 * failure and rethrows it after the jobs in flight have settled.
 */
export async function runBounded(pool: ChunkPool, count: number, job: (i: number) => Promise<void>): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  for (let i = 0; i < count && failure === undefined; i++) {
    await pool.slot();
    if (failure !== undefined) {
      pool.cancelSlot();
      break;
    }
    const p: Promise<void> = job(i).catch((err) => {
      failure ??= err;
    }).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
}
