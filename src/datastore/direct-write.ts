/**
 * Chunk files written with O_DIRECT, past the page cache, when GUESTVAULT_DIRECT_IO=1. Why one
 * would: a backup writes gigabytes the host will not read again soon; through the page cache
 * they evict the guests' cached data and every fresh page costs the kernel an allocation and a
 * copy (on this 2-core VM a 2 GiB VM backup used 12.5 CPU-s buffered, 8.2 CPU-s direct). Why it
 * is not the default: the writes are synchronous, and in bench/vm.js's sequence (right after
 * another program wrote and deleted a 1 GiB file) the same backup took 13.8-17.9 s direct
 * against 9.2 s buffered, while alone it took 6.2-7.0 s direct against ~8 s buffered. In the slow
 * runs the virtual disk wrote only 55-80 MB/s with 60-80 % iowait: buffered writes hide that
 * behind write-back's deep queue, while each worker here has one synchronous write in flight.
 *
 * O_DIRECT wants the memory address, the length and the file offset aligned to the device's
 * block size. JavaScript cannot see addresses, so the aligned start of a per-thread buffer is
 * found once by trying (the kernel answers EINVAL for a misaligned one). Callers that can, put
 * the blob straight into that buffer (`directBuffer`); other data is copied there. The aligned
 * body goes direct; the last partial block goes through the page cache at a page-aligned offset
 * just past the end of the file, which needs no read-modify-write. Where the file system refuses
 * O_DIRECT (some FUSE/NFS setups) or no aligned start is found, chunks of that datastore are
 * written through the page cache.
 */
import { closeSync, constants, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { errnoCode } from '../errors.js';

/** Alignment that satisfies devices with logical blocks up to 4 KiB. */
const ALIGN = 4096;
/** Memory alignment of malloc (the step of the probe). */
const MALLOC_ALIGN = 16;
/** A chunk blob is at most 4 MiB plus a header. */
const DEFAULT_SIZE = 4 * 1024 * 1024 + 64;

const unsupported = new Set<string>();
const supported = new Set<string>();
let scratch: Buffer | undefined;
/** Aligned start inside `scratch`, once found. */
let scratchStart = -1;

/** Whether direct writes are asked for (GUESTVAULT_DIRECT_IO=1) and not known to be refused here. */
export function directWritesEnabled(storePath: string): boolean {
  return process.env.GUESTVAULT_DIRECT_IO === '1' && !unsupported.has(storePath);
}

/**
 * This thread's aligned buffer of at least `size` bytes, for blobs of files written with
 * `writeNewFileDirect` into `storePath`; undefined when that store cannot take direct writes.
 * The next call may return the same memory.
 */
export function directBuffer(storePath: string, size = DEFAULT_SIZE): Buffer | undefined {
  if (!directWritesEnabled(storePath)) return undefined;
  if (!scratch || scratch.length < size + ALIGN) {
    scratch = Buffer.allocUnsafeSlow(Math.max(size, DEFAULT_SIZE) + ALIGN);
    scratchStart = -1;
  }
  if (scratchStart < 0 || !supported.has(storePath)) {
    if (!probe(storePath)) {
      unsupported.add(storePath);
      return undefined;
    }
    supported.add(storePath);
  }
  return scratch.subarray(scratchStart);
}

/** Open a probe file in the store with O_DIRECT and find the aligned start of `scratch`. */
function probe(storePath: string): boolean {
  const file = join(storePath, `.direct-io-probe.${process.pid}.${threadId}`);
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_DIRECT, 0o600);
  } catch (err) {
    if (errnoCode(err) === 'EINVAL') return false;
    throw err;
  }
  try {
    if (scratchStart >= 0 && tryWrite(fd, scratchStart)) return true;
    scratchStart = -1;
    for (let off = 0; off < ALIGN; off += MALLOC_ALIGN) {
      if (tryWrite(fd, off)) {
        scratchStart = off;
        return true;
      }
    }
    return false;
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
}

function tryWrite(fd: number, offset: number): boolean {
  try {
    writeSync(fd, scratch!, offset, ALIGN, 0);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'EINVAL') return false;
    throw err;
  }
}

/**
 * Write `parts` as the new file `path` (created exclusively, mode 0644). Returns false, having
 * created nothing, when direct I/O is not possible there (the caller then writes buffered).
 */
export function writeNewFileDirect(storePath: string, path: string, parts: readonly Uint8Array[]): boolean {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const body = total - (total % ALIGN);
  if (body === 0) return false;
  const buf = directBuffer(storePath, total);
  if (!buf) return false;
  // Copy unless the caller built the blob in place (its first part starts the buffer and the
  // parts follow each other in it).
  if (!inPlace(buf, parts)) {
    let at = 0;
    for (const p of parts) {
      buf.set(p, at);
      at += p.length;
    }
  }
  let fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT, 0o644);
  try {
    let done = 0;
    while (done < body) done += writeSync(fd, buf, done, body - done, done);
    if (body < total) {
      closeSync(fd);
      fd = openSync(path, 'r+');
      let tail = body;
      while (tail < total) tail += writeSync(fd, buf, tail, total - tail, tail);
    }
    return true;
  } finally {
    closeSync(fd);
  }
}

function inPlace(buf: Buffer, parts: readonly Uint8Array[]): boolean {
  let at = buf.byteOffset;
  for (const p of parts) {
    if (p.buffer !== buf.buffer || p.byteOffset !== at) return false;
    at += p.length;
  }
  return true;
}
