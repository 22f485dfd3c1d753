/**
 * Runs in worker threads: the CPU-heavy work on chunks (read, zero check, SHA-256, zstd,
 * AES-GCM, CRC) and the chunk file I/O, so that both cores work and the main thread only
 * orders results. Every task is self-contained; nothing here is shared between tasks except
 * caches that are safe to reuse.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { GuestvaultError, errnoCode } from '../errors.js';
import { CryptConfig, checkBlobCrc, decodeBlob, encodeBlob, isEncryptedKind } from '../formats/index.js';
import { chunkPath, insertChunk, readChunk, touchChunk } from './chunk-store.js';
import { directBuffer } from './direct-write.js';
import type { ChunkTask, ChunkTaskResult, LoadResult, StoreResult, TouchResult, VerifyResult } from './chunk-task.js';

const cryptCache = new Map<string, CryptConfig>();
function cryptFor(key: Uint8Array | undefined): CryptConfig | undefined {
  if (!key) return undefined;
  const hex = Buffer.from(key).toString('hex');
  let c = cryptCache.get(hex);
  if (!c) {
    c = new CryptConfig(Buffer.from(key));
    cryptCache.set(hex, c);
  }
  return c;
}

let zeros = Buffer.alloc(0);
function isZero(data: Buffer): boolean {
  if (zeros.length < data.length) zeros = Buffer.alloc(data.length);
  return data.equals(zeros.subarray(0, data.length));
}

// Reused buffers: a worker runs one task at a time and never returns these.
let readBuf = Buffer.alloc(0);
const chunkScratch = { buf: Buffer.alloc(0) };
let decodeBuf = Buffer.alloc(0);
function decodeScratch(size: number): Buffer {
  if (decodeBuf.length < size) decodeBuf = Buffer.allocUnsafe(size);
  return decodeBuf;
}

function digestOf(data: Buffer, crypt: CryptConfig | undefined): Buffer {
  return crypt ? crypt.computeDigest(data) : createHash('sha256').update(data).digest();
}

// Digests of all-zero chunks by size and key: a restore knows such a chunk without reading it.
const zeroDigests = new Map<string, string>();
function zeroDigest(size: number, crypt: CryptConfig | undefined): string {
  const k = `${size}:${crypt ? crypt.fingerprintString() : ''}`;
  let d = zeroDigests.get(k);
  if (!d) {
    if (zeros.length < size) zeros = Buffer.alloc(size);
    d = digestOf(zeros.subarray(0, size), crypt).toString('hex');
    zeroDigests.set(k, d);
  }
  return d;
}

function storeData(store: string, data: Buffer, crypt: CryptConfig | undefined, compress: boolean): StoreResult {
  const zero = isZero(data);
  const digest = zero ? Buffer.from(zeroDigest(data.length, crypt), 'hex') : digestOf(data, crypt);
  const hex = digest.toString('hex');
  // Most chunks of a repeated backup exist already: touch them and skip the compression.
  if (touchChunk(chunkPath(store, hex))) return { digest: hex, zero, status: 'duplicate', size: data.length, encodedSize: 0 };
  // Compressed straight into the O_DIRECT buffer when the store takes direct writes: no copy,
  // and no second 4 MiB buffer to fault in.
  const blob = encodeBlob(data, { compress, crypt, reuseBuffer: true, into: crypt ? undefined : directBuffer(store) });
  const status = insertChunk(store, hex, blob);
  return { digest: hex, zero, status, size: data.length, encodedSize: blob.header.length + blob.payload.length };
}

function readRange(path: string, offset: number, length: number): Buffer {
  if (readBuf.length < length) readBuf = Buffer.allocUnsafe(length);
  const buf = readBuf.subarray(0, length);
  const fd = openSync(path, 'r');
  try {
    let got = 0;
    while (got < length) {
      const n = readSync(fd, buf, got, length - got, offset + got);
      if (n === 0) {
        throw new GuestvaultError('E_SOURCE_SHRUNK', `${path} ended at ${offset + got} bytes while reading ${length} bytes at offset ${offset}: the source changed during the backup`);
      }
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}

function load(task: Extract<ChunkTask, { op: 'load' }>): LoadResult {
  const crypt = cryptFor(task.key);
  const target = task.target;
  // A sparse target already reads as zeros where nothing is written.
  if (target?.sparse && task.digest === zeroDigest(task.size, crypt)) return {};
  const what = `chunk ${task.digest}`;
  // Data written straight to the target can live in reused buffers; data sent back cannot.
  const data = decodeBlob(readChunk(task.store, task.digest, target ? chunkScratch : undefined), what, {
    crypt,
    digest: Buffer.from(task.digest, 'hex'),
    size: task.size,
    into: target ? decodeScratch(task.size) : undefined,
  });
  if (!target) return { data };
  if (target.sparse && isZero(data)) return {};
  const fd = openSync(target.path, 'r+');
  try {
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done, target.offset + done);
  } catch (err) {
    if (errnoCode(err) === 'ENOSPC') throw new GuestvaultError('E_DISK_FULL', `no space left on ${target.path}`);
    throw new GuestvaultError('E_TARGET_WRITE', `cannot write ${target.path}: ${(err as Error).message}`);
  } finally {
    closeSync(fd);
  }
  return {};
}

function verify(task: Extract<ChunkTask, { op: 'verify' }>): VerifyResult {
  const what = `chunk ${task.digest}`;
  try {
    const raw = readChunk(task.store, task.digest);
    const kind = checkBlobCrc(raw, what);
    if (isEncryptedKind(kind) !== task.encrypted) {
      return { ok: false, error: `${what}: crypt mode mismatch (chunk is ${kind}, index expects ${task.encrypted ? 'encrypted' : 'unencrypted'})` };
    }
    // Encrypted chunks can only be checked for their CRC without the key (as PBS does).
    if (!task.encrypted) decodeBlob(raw, what, { digest: Buffer.from(task.digest, 'hex'), size: task.size });
    return { ok: true, encodedSize: raw.length };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err), missing: err instanceof GuestvaultError && err.code === 'E_CHUNK_MISSING' };
  }
}

// Errors cross the thread boundary as plain data so their stable code survives.
export default function runChunkTask(task: ChunkTask): ChunkTaskResult {
  try {
    return { ok: runTask(task) };
  } catch (err) {
    if (err instanceof GuestvaultError) return { error: { code: err.code, message: err.message } };
    return { error: { code: 'E_INTERNAL', message: err instanceof Error ? (err.stack ?? err.message) : String(err) } };
  }
}

function runTask(task: ChunkTask): StoreResult | LoadResult | VerifyResult | TouchResult {
  switch (task.op) {
    case 'store-range':
      return storeData(task.store, readRange(task.source, task.offset, task.length), cryptFor(task.key), task.compress);
    case 'store-data':
      return storeData(task.store, Buffer.from(task.data.buffer, task.data.byteOffset, task.data.byteLength), cryptFor(task.key), task.compress);
    case 'load':
      return load(task);
    case 'verify':
      return verify(task);
    case 'touch':
      return { missing: task.digests.filter((d) => !touchChunk(chunkPath(task.store, d))) };
  }
}
