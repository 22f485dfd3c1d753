import { createCipheriv } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, readdirSync, statSync, utimesSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Deterministic pseudo-random bytes (AES-CTR over zeros), seeded by `seed`. */
export function randomData(n: number, seed = 1): Buffer {
  const key = Buffer.alloc(16, seed & 0xff);
  key.writeUInt32LE(seed >>> 0, 0);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
}

export function textData(n: number): Buffer {
  const out = Buffer.alloc(n);
  let off = 0;
  let i = 0;
  while (off < n) off += out.write(`line ${i++} of a log file with some repeated words\n`, off);
  return out;
}

export const MiB = 1024 * 1024;

/**
 * An image of `sizeMiB` MiB: regions (in MiB) as [kind, length] pairs repeated; 'z' zero (a hole),
 * 't' text, 'r' random. Returns the path.
 */
export function writeImage(path: string, sizeBytes: number, pattern: Array<['z' | 't' | 'r', number]>, seed = 1): string {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, sizeBytes);
  let pos = 0;
  let k = 0;
  while (pos < sizeBytes) {
    const [kind, mib] = pattern[k % pattern.length]!;
    const len = Math.min(mib * MiB, sizeBytes - pos);
    if (kind !== 'z') writeSync(fd, kind === 't' ? textData(len) : randomData(len, seed + k), 0, len, pos);
    pos += len;
    k++;
  }
  closeSync(fd);
  return path;
}

/** Make every chunk of a datastore look unused for days, so only garbage collection's marking keeps it. */
export function ageChunks(store: string, days = 3): void {
  const old = Date.now() / 1000 - days * 86400;
  // Only the 0000…ffff chunk directories (a killed GC may leave its .atime-probe file beside them).
  for (const dir of readdirSync(join(store, '.chunks')).filter((d) => /^[0-9a-f]{4}$/.test(d))) {
    for (const f of readdirSync(join(store, '.chunks', dir))) {
      const p = join(store, '.chunks', dir, f);
      try {
        utimesSync(p, old, statSync(p).mtime);
      } catch (err) {
        // A backup running meanwhile links its chunks from temporary files it then removes.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
}
