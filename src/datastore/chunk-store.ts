import { closeSync, existsSync, linkSync, fstatSync, readSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { GuestvaultError, errnoCode } from '../errors.js';
import type { EncodedBlob } from '../formats/index.js';
import { directWritesEnabled, writeNewFileDirect } from './direct-write.js';

export const CHUNK_DIR = '.chunks';

export function chunkDir(storePath: string, digestHex: string): string {
  return join(storePath, CHUNK_DIR, digestHex.slice(0, 4));
}

export function chunkPath(storePath: string, digestHex: string): string {
  return join(storePath, CHUNK_DIR, digestHex.slice(0, 4), digestHex);
}

/** Create the PBS layout: `.chunks/0000` … `.chunks/ffff` and the `.lock` file. */
export function createChunkStoreLayout(storePath: string): void {
  mkdirSync(join(storePath, CHUNK_DIR), { recursive: true });
  for (let i = 0; i < 0x10000; i++) {
    const dir = join(storePath, CHUNK_DIR, i.toString(16).padStart(4, '0'));
    try {
      mkdirSync(dir, 0o755);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
  }
  closeSync(openSync(join(storePath, '.lock'), 'a'));
}

export function looksLikeDatastore(storePath: string): boolean {
  return existsSync(join(storePath, CHUNK_DIR, '0000')) && existsSync(join(storePath, CHUNK_DIR, 'ffff'));
}

export type InsertResult = 'new' | 'duplicate';

/**
 * Insert an encoded chunk atomically and idempotently (PBS rules): an existing chunk is only
 * touched, so garbage collection sees it as in use, and never rewritten — except a zero-length
 * file (left by a crash before the data reached the disk), which is replaced.
 */
export function insertChunk(storePath: string, digestHex: string, blob: EncodedBlob): InsertResult {
  const path = chunkPath(storePath, digestHex);
  if (touchChunk(path)) return 'duplicate';
  const tmp = `${path}.tmp_${randomBytes(6).toString('hex')}`;
  let fd: number | undefined;
  try {
    if (directWritesEnabled(storePath) && writeNewFileDirect(storePath, tmp, [blob.header, blob.payload])) return linkInPlace(tmp, path);
    fd = openSync(tmp, 'wx', 0o644);
    const total = blob.header.length + blob.payload.length;
    let written = writevSync(fd, [blob.header, blob.payload]);
    // writev may be short on some filesystems; finish with plain writes.
    while (written < total) {
      const all = Buffer.concat([blob.header, blob.payload]);
      written += writeSync(fd, all, written, total - written);
    }
    closeSync(fd);
    fd = undefined;
    return linkInPlace(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // The temp file was never created or is already gone.
    }
    const code = errnoCode(err);
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new GuestvaultError('E_DISK_FULL', `datastore ${storePath} is full: no space left to write chunk ${digestHex}`);
    }
    if (code === 'ENOENT') {
      throw new GuestvaultError('E_NOT_A_DATASTORE', `${storePath} is not a datastore (missing ${chunkDir(storePath, digestHex)})`);
    }
    throw new GuestvaultError('E_CHUNK_WRITE', `cannot write chunk ${digestHex} to ${storePath}: ${(err as Error).message}`);
  }
}

/**
 * Link, not rename: when two workers store the same chunk at once, exactly one wins and the
 * other learns it was a duplicate (rename would overwrite and call both "new").
 */
function linkInPlace(tmp: string, path: string): InsertResult {
  try {
    linkSync(tmp, path);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    unlinkSync(tmp);
    return 'duplicate';
  }
  unlinkSync(tmp);
  return 'new';
}

/** Touch (atime) an existing, non-empty chunk; false if there is none. */
export function touchChunk(path: string): boolean {
  try {
    const st = statSync(path);
    if (st.size === 0) return false;
    utimesSync(path, new Date(), st.mtime);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Read a chunk file. With `scratch`, the bytes land in (a view of) that buffer when it is big
 * enough, so a worker reading thousands of chunks does not allocate fresh memory for each.
 */
export function readChunk(storePath: string, digestHex: string, scratch?: { buf: Buffer }): Buffer {
  try {
    if (!scratch) return readFileSync(chunkPath(storePath, digestHex));
    const fd = openSync(chunkPath(storePath, digestHex), 'r');
    try {
      const size = fstatSync(fd).size;
      if (scratch.buf.length < size) scratch.buf = Buffer.allocUnsafe(Math.max(size, 4 * 1024 * 1024 + 64));
      let got = 0;
      while (got < size) {
        const n = readSync(fd, scratch.buf, got, size - got, got);
        if (n === 0) break;
        got += n;
      }
      return scratch.buf.subarray(0, got);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new GuestvaultError('E_CHUNK_MISSING', `chunk ${digestHex} is missing from ${storePath}`);
    }
    throw new GuestvaultError('E_CHUNK_READ', `cannot read chunk ${digestHex}: ${(err as Error).message}`);
  }
}

/** Rename a corrupt chunk to `<digest>.<n>.bad` (first free n in 0..9) as PBS verify does. */
export function markChunkBad(storePath: string, digestHex: string): string | undefined {
  const path = chunkPath(storePath, digestHex);
  for (let n = 0; n < 10; n++) {
    const bad = `${path}.${n}.bad`;
    if (existsSync(bad)) continue;
    try {
      renameSync(path, bad);
      return bad;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }
  return undefined;
}

/** Bad-chunk copies present for a digest (for reports). */
export function listBadCopies(storePath: string, digestHex: string): string[] {
  const dir = chunkDir(storePath, digestHex);
  return readdirSync(dir).filter((f) => f.startsWith(`${digestHex}.`) && f.endsWith('.bad'));
}
