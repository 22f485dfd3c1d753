import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { directBuffer, directWritesEnabled, writeNewFileDirect } from '../../src/datastore/direct-write.js';
import { insertChunk, chunkPath } from '../../src/datastore/chunk-store.js';
import { decodeBlob, encodeBlob } from '../../src/formats/index.js';

/** Pages of `file` in the page cache (util-linux fincore). */
function cachedPages(file: string): number {
  const out = execFileSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'PAGES', file], { encoding: 'utf8' });
  return Number(out.trim());
}

describe('O_DIRECT chunk writes (GUESTVAULT_DIRECT_IO=1)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gv-direct-'));
  const saved = process.env.GUESTVAULT_DIRECT_IO;
  beforeAll(() => {
    process.env.GUESTVAULT_DIRECT_IO = '1';
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.GUESTVAULT_DIRECT_IO;
    else process.env.GUESTVAULT_DIRECT_IO = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes files of every size bit for bit, past the page cache except the last partial page', () => {
    const direct = directWritesEnabled(dir) && directBuffer(dir) !== undefined;
    // This machine's /tmp takes O_DIRECT; a file system that does not would use the fallback.
    expect(direct).toBe(true);
    for (const size of [1, 4095, 4096, 4097, 8192 + 13, 4 * 1024 * 1024 + 12]) {
      const header = randomBytes(Math.min(12, size));
      const payload = randomBytes(size - header.length);
      const file = join(dir, `f-${size}`);
      const took = writeNewFileDirect(dir, file, [header, payload]);
      // Files smaller than one block have nothing to write direct: the caller writes them.
      expect(took, `size ${size}`).toBe(size >= 4096);
      if (!took) continue;
      expect(readFileSync(file).equals(Buffer.concat([header, payload])), `size ${size}`).toBe(true);
      // Only the tail (less than a page) went through the page cache (readFileSync above
      // pulls pages in, so check a second file written the same way, unread).
      const unread = join(dir, `u-${size}`);
      writeNewFileDirect(dir, unread, [header, payload]);
      expect(cachedPages(unread), `size ${size}`).toBeLessThanOrEqual(size % 4096 ? 1 : 0);
    }
    expect(readdirSync(dir).filter((f) => f.startsWith('.direct-io-probe'))).toEqual([]);
  });

  it('never overwrites an existing file (chunk insertion relies on exclusive create)', () => {
    const file = join(dir, 'exists');
    expect(writeNewFileDirect(dir, file, [randomBytes(8192)])).toBe(true);
    const before = readFileSync(file);
    expect(() => writeNewFileDirect(dir, file, [randomBytes(8192)])).toThrow(/EEXIST/);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('compresses a blob straight into the aligned buffer, which decodes to the data', () => {
    // Hex digits: compressible (to about half), but not to less than a block.
    const text = Buffer.from(randomBytes(2 * 1024 * 1024).toString('hex'));
    const into = directBuffer(dir)!;
    const blob = encodeBlob(text, { compress: true, reuseBuffer: true, into });
    expect(blob.kind).toBe('zstd');
    // Header and payload are the first bytes of `into`, back to back: written without a copy.
    expect(blob.header.buffer).toBe(into.buffer);
    expect(blob.header.byteOffset).toBe(into.byteOffset);
    expect(blob.payload.byteOffset).toBe(into.byteOffset + blob.header.length);
    const file = join(dir, 'blob');
    expect(writeNewFileDirect(dir, file, [blob.header, blob.payload])).toBe(true);
    expect(decodeBlob(readFileSync(file), 'blob').equals(text)).toBe(true);
    // Incompressible data is stored plain (its payload is the data itself, copied on write).
    const random = randomBytes(64 * 1024);
    const plain = encodeBlob(random, { compress: true, reuseBuffer: true, into: directBuffer(dir)! });
    expect(plain.kind).toBe('plain');
    const file2 = join(dir, 'plain');
    expect(writeNewFileDirect(dir, file2, [plain.header, plain.payload])).toBe(true);
    expect(decodeBlob(readFileSync(file2), 'plain').equals(random)).toBe(true);
  });

  it('chunks inserted without GUESTVAULT_DIRECT_IO=1 go through the page cache and read the same', () => {
    const store = join(dir, 'store');
    // Only the two chunk directories used (the whole layout has 65,536).
    for (const d of ['abab', 'cdcd']) mkdirSync(join(store, '.chunks', d), { recursive: true });
    const data = randomBytes(3 * 4096 + 100);
    const blob = encodeBlob(data, { compress: true });
    const digest = 'ab'.repeat(32);
    delete process.env.GUESTVAULT_DIRECT_IO;
    try {
      expect(directWritesEnabled(store)).toBe(false);
      expect(insertChunk(store, digest, blob)).toBe('new');
    } finally {
      process.env.GUESTVAULT_DIRECT_IO = '1';
    }
    expect(cachedPages(chunkPath(store, digest))).toBe(4);
    expect(insertChunk(store, digest, blob)).toBe('duplicate');
    const digest2 = 'cd'.repeat(32);
    expect(insertChunk(store, digest2, blob)).toBe('new');
    expect(cachedPages(chunkPath(store, digest2))).toBe(1);
    expect(decodeBlob(readFileSync(chunkPath(store, digest2)), 'chunk').equals(data)).toBe(true);
    expect(readdirSync(join(store, '.chunks', 'cdcd'))).toEqual([digest2]);
  });
});
