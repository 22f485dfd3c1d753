/**
 * Back up a disk image that is read through a callback (an NBD export of a VM's point-in-time
 * view) as a fixed index with 4 MiB chunks. Chunks the reader knows to be zero are not read;
 * with a base (the previous snapshot's index and the chunks changed since), unchanged chunks
 * take the previous digest and only changed ones are read.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_FIXED_CHUNK_SIZE, decodeFixedIndex, encodeFixedIndex, fixedChunkCount, type ManifestFile } from '../formats/index.js';
import { Progress } from '../tasks/index.js';
import { emptyStats, runBounded, type ArchiveStats, type BackupSession } from './backup-session.js';
import type { StoreResult } from './chunk-task.js';
import type { ChunkPool } from './chunk-pool.js';
import { formatSnapshot } from './names.js';

export interface ImageReader {
  size: number;
  /** True when chunk `index` is known to hold only zeros (it is then not read). */
  isZero(index: number): boolean;
  /** Read into `target` when given (returning the filled part of it). */
  read(offset: number, length: number, target?: Buffer): Promise<Buffer>;
  /**
   * Called once when the last read has returned and no other will come, while the chunks read
   * last may still be stored: a VM backup then removes its point-in-time view meanwhile.
   */
  readsDone?(): void;
}

export interface ImageBase {
  /** Digests of the previous snapshot's index of this image (same size and chunk size). */
  digests: Buffer[];
  /** Chunks changed since that snapshot; all others are taken from `digests`. */
  changed(index: number): boolean;
  /**
   * The digests found missing by a touch of the base's chunks started earlier (`touchChunks`),
   * when there was one; else the stream touches the chunks it reuses itself.
   */
  touched?: Promise<Set<string>>;
}

export interface ImageStreamStats extends ArchiveStats {
  /** Bytes actually read from the source. */
  readBytes: number;
  /** Chunks taken over from the base without reading. */
  reusedChunks: number;
}

/** Why the previous snapshot's index of `file` cannot serve as a base, or the base's digests. */
export function previousImageIndex(session: BackupSession, file: string, size: number): { digests: Buffer[]; csum: string } | { reason: string } {
  const prev = session.previousManifest;
  if (!prev || !session.previous) return { reason: 'there is no previous snapshot' };
  const where = formatSnapshot(session.previous);
  if ((prev.unprotected.verify_state as { state?: string } | undefined)?.state === 'failed') return { reason: `the previous snapshot ${where} failed verification` };
  const entry = prev.files.find((f) => f.filename === file);
  if (!entry) return { reason: `the previous snapshot ${where} has no ${file}` };
  if (entry['crypt-mode'] !== session.cryptMode) return { reason: `the encryption changed since ${where} (${entry['crypt-mode']} → ${session.cryptMode})` };
  if (session.crypt && prev.unprotected['key-fingerprint'] !== session.crypt.fingerprintString()) return { reason: `the encryption key changed since ${where}` };
  try {
    const index = decodeFixedIndex(readFileSync(join(session.store.snapshotDir(session.previous), file)), `${where}/${file}`);
    if (index.csum.toString('hex') !== entry.csum) return { reason: `the index ${where}/${file} does not match its manifest` };
    if (index.size !== size || index.chunkSize !== DEFAULT_FIXED_CHUNK_SIZE) return { reason: `the disk size changed since ${where}` };
    return { digests: index.digests, csum: entry.csum };
  } catch (err) {
    return { reason: `cannot read ${where}/${file}: ${(err as Error).message}` };
  }
}

/**
 * Chunk buffers kept for the next image of this process (a daemon runs many backups): fresh
 * memory costs ~25 ms per 4 MiB to fault in on the VMs this was measured on. At most one per
 * chunk in flight, so bounded by the largest pool's maxInFlight.
 */
const spareBuffers: Buffer[] = [];

export async function addImageStream(session: BackupSession, name: string, reader: ImageReader, base?: ImageBase): Promise<ImageStreamStats> {
  const file = `${name}.fidx`;
  session.checkArchiveName(file);
  const { size } = reader;
  const chunkSize = DEFAULT_FIXED_CHUNK_SIZE;
  const count = fixedChunkCount(size, chunkSize);
  const digests: Buffer[] = new Array(count);
  const stats: ImageStreamStats = { ...emptyStats(name, size), readBytes: 0, reusedChunks: 0 };
  const started = Date.now();
  const progress = new Progress(name, size, session.progressSink);
  const pool = session.pool;
  const key = session.crypt?.encKey;
  // One zero chunk per distinct length (only the last chunk can be shorter), stored once; the
  // job that stores it uses its pool slot for that, every other zero chunk gives its slot back.
  const zeroDigests = new Map<number, Promise<StoreResult>>();
  const zeroChunk = (length: number): { result: Promise<StoreResult>; first: boolean } => {
    const known = zeroDigests.get(length);
    if (known) return { result: known, first: false };
    const result = pool.run({ op: 'store-data', store: session.store.path, data: new Uint8Array(length), key, compress: true });
    zeroDigests.set(length, result);
    return { result, first: true };
  };
  // Chunk buffers in shared memory, reused: the worker reads the very bytes the NBD reply was
  // written into (no copy, no transfer), and no 4 MiB allocation is faulted in per chunk.
  const buffers = spareBuffers;
  // Unchanged chunks keep the base's digest. Touching them (so that a concurrent garbage
  // collection sees them in use) is one task for a chunk worker, run while the changed chunks
  // are read; one found missing is read and stored afterwards, like a changed one.
  const reused = base ? touchReused(pool, session.store.path, base, count) : undefined;
  reused?.missing.catch(() => undefined); // awaited below; not unhandled when the read fails first
  const reads = readTracker(reader);
  // An incremental keeps fewer chunk buffers in use: one per worker and one being read. On the
  // VM these figures come from, a process's memory faults in again page by page after other
  // programs wrote a few GiB (~15 us per 4 KiB page, here in the thread that receives the NBD
  // replies), as before every nightly incremental. With 4 buffers instead of 6, the first
  // incremental after a full backup (10 chunks changed) took 177-226 ms in the daemon instead
  // of 229-263 ms. A full read keeps more in flight for throughput.
  const bufferSlots = new Slots(base ? pool.threads + 1 : Infinity);
  const storeChunk = async (i: number): Promise<void> => {
    const offset = i * chunkSize;
    const length = Math.min(chunkSize, size - offset);
    if (reader.isZero(i)) {
      const z = zeroChunk(length);
      if (!z.first) pool.cancelSlot();
      const r = await z.result;
      digests[i] = Buffer.from(r.digest, 'hex');
      session.chunkStored(stats, z.first ? { ...r, zero: true } : { ...r, zero: true, status: 'duplicate', encodedSize: 0 });
      return;
    }
    let buffer: Buffer | undefined;
    let r: StoreResult;
    try {
      // Tracked from here, so the source hears of no end while a read waits for its buffer.
      const data = await reads.track((async () => {
        await bufferSlots.take();
        buffer = buffers.pop() ?? Buffer.from(new SharedArrayBuffer(chunkSize));
        return reader.read(offset, length, buffer);
      })());
      stats.readBytes += length;
      r = await pool.run({ op: 'store-data', store: session.store.path, data, key, compress: true });
    } finally {
      if (buffer) {
        buffers.push(buffer);
        bufferSlots.give();
      }
    }
    digests[i] = Buffer.from(r.digest, 'hex');
    session.chunkStored(stats, r);
  };
  await runBounded(pool, count, async (i) => {
    const length = Math.min(chunkSize, size - i * chunkSize);
    const stored = reused?.candidates.has(i) ? undefined : storeChunk(i);
    if (stored === undefined) pool.cancelSlot();
    // The last job is under way (its read, if any, has started): what is still to read are the
    // base's chunks found missing, if any.
    if (i === count - 1) reads.lastIssued(reused ? reused.missing.then((m) => m.size === 0, () => false) : Promise.resolve(true));
    await stored;
    progress.add(length);
  });
  if (reused) {
    const missing = await reused.missing;
    for (const i of reused.candidates) {
      if (missing.has(i)) continue;
      digests[i] = base!.digests[i]!;
      stats.chunks++;
      stats.duplicateChunks++;
      stats.reusedChunks++;
    }
    // Chunks of the base that are gone from the store (removed by hand, or a damaged store).
    const gone = [...missing];
    await runBounded(pool, gone.length, async (k) => storeChunk(gone[k]!));
  }
  reads.finished();
  progress.finish();
  stats.seconds = (Date.now() - started) / 1000;
  const index = encodeFixedIndex({ size, chunkSize, digests, ctime: Math.floor(Date.now() / 1000) });
  session.writeFileAtomic(file, index);
  const entry: ManifestFile = { filename: file, 'crypt-mode': session.cryptMode, size, csum: index.subarray(32, 64).toString('hex') };
  session.addIndexFile(entry, stats);
  return stats;
}

/** A counting semaphore. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(count: number) {
    this.free = Math.max(1, count);
  }
  async take(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/**
 * Tells the reader when its last read has returned (`readsDone`). `lastIssued(final)`: every
 * read of the main pass has started; `final` resolves to whether those were all. `finished()`:
 * no read at all is left (after the base's missing chunks were read too).
 */
function readTracker(reader: ImageReader): { track<T>(read: Promise<T>): Promise<T>; lastIssued(final: Promise<boolean>): void; finished(): void } {
  let running = 0;
  let allIssued = false;
  let told = false;
  const tell = (): void => {
    if (told || !allIssued || running > 0) return;
    told = true;
    reader.readsDone?.();
  };
  return {
    async track(read) {
      running++;
      try {
        return await read;
      } finally {
        running--;
        tell();
      }
    },
    lastIssued(final) {
      void final.then((all) => {
        if (!all) return;
        allIssued = true;
        tell();
      });
    },
    finished() {
      allIssued = true;
      tell();
    },
  };
}

/**
 * The chunks an incremental takes over from its base, and (later) those of them that are no
 * longer in the store. Each distinct chunk is touched once, all in one task: from the main
 * thread, ~500 asynchronous stat+utimes cost more of its time than doing them in a worker.
 */
function touchReused(pool: ChunkPool, store: string, base: ImageBase, count: number): { candidates: Set<number>; missing: Promise<Set<number>> } {
  const candidates = new Set<number>();
  const byDigest = new Map<string, number[]>();
  for (let i = 0; i < count; i++) {
    if (base.changed(i) || !base.digests[i]) continue;
    candidates.add(i);
    const hex = base.digests[i]!.toString('hex');
    const at = byDigest.get(hex);
    if (at) at.push(i);
    else byDigest.set(hex, [i]);
  }
  const gone = base.touched ?? touchChunks(pool, store, [...byDigest.keys()]);
  const missing = gone.then((digests) => new Set([...digests].flatMap((d) => byDigest.get(d) ?? [])));
  return { candidates, missing };
}

/** Touch these chunks (one task for a chunk worker); resolves to those missing from the store. */
export function touchChunks(pool: ChunkPool, store: string, digests: readonly string[]): Promise<Set<string>> {
  return (async () => {
    await pool.slot();
    const r = await pool.run({ op: 'touch', store, digests: [...digests] });
    return new Set(r.missing);
  })();
}
