import { describe, expect, it } from 'vitest';
import { BUZHASH_TABLE, CHUNKER_WINDOW, Chunker, DEFAULT_AVG_CHUNK } from '../../src/formats/index.js';
import { seededBytes, sha256 } from './helpers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Chunk end offsets when `data` is fed to a fresh chunker in the given piece sizes (default: all at once). */
function boundaries(data: Uint8Array, avg: number, pieceSizes?: number[]): number[] {
  const chunker = new Chunker(avg);
  const ends: number[] = [];
  let offset = 0;
  let consumed = 0;
  const feed = (piece: Uint8Array): void => {
    let rest = piece;
    while (rest.length > 0) {
      const n = chunker.scan(rest);
      if (n === 0) {
        consumed += rest.length;
        return;
      }
      expect(n).toBeLessThanOrEqual(rest.length);
      consumed += n;
      ends.push(consumed);
      rest = rest.subarray(n);
    }
  };
  if (pieceSizes) {
    for (const size of pieceSizes) {
      feed(data.subarray(offset, offset + size));
      offset += size;
    }
    expect(offset).toBeGreaterThanOrEqual(data.length);
  } else {
    feed(data);
  }
  if (data.length > 0 && ends[ends.length - 1] !== data.length) ends.push(data.length);
  return ends;
}

function sizes(ends: number[]): number[] {
  return ends.map((e, i) => e - (i === 0 ? 0 : ends[i - 1]!));
}

function rotl32(x: number, n: number): number {
  const k = n & 31;
  return k === 0 ? x | 0 : ((x << k) | (x >>> (32 - k))) | 0;
}

/** ROTATED[k * 256 + b] = rotl(T[b], 63 - k): the term of byte b at window position k. */
const ROTATED = (() => {
  const r = new Int32Array(CHUNKER_WINDOW * 256);
  for (let k = 0; k < CHUNKER_WINDOW; k++) {
    for (let b = 0; b < 256; b++) r[k * 256 + b] = rotl32(BUZHASH_TABLE[b]!, CHUNKER_WINDOW - 1 - k);
  }
  return r;
})();

/**
 * The cut rule of the reference (§7.5), computed the slow way: the buzhash of the 64 bytes ending
 * at each position is XOR of rotl(T[b_k], 63 - k); cut when size >= max, or size >= min and
 * (h & (2*avg-1)) >= 2*avg-3. No cut inside the first 64 bytes of a chunk.
 */
function referenceBoundaries(data: Uint8Array, avg: number): number[] {
  const min = avg / 4;
  const max = avg * 4;
  const mask = 2 * avg - 1;
  // Local copies: the test runner turns imported bindings into property reads.
  const window = CHUNKER_WINDOW;
  const rotated = ROTATED;
  const ends: number[] = [];
  let start = 0;
  outer: while (start < data.length) {
    for (let p = start + window; p < data.length; p++) {
      const size = p + 1 - start;
      if (size >= max) {
        ends.push(p + 1);
        start = p + 1;
        continue outer;
      }
      if (size < min) continue;
      let h = 0;
      const first = p - (window - 1);
      for (let k = 0; k < window; k++) h ^= rotated[k * 256 + data[first + k]!]!;
      if ((h & mask) >= mask - 2) {
        ends.push(p + 1);
        start = p + 1;
        continue outer;
      }
    }
    ends.push(data.length);
    break;
  }
  return ends;
}

/** Pseudo-random piece sizes (deterministic), mixing tiny and large pieces, covering `total`. */
function pieceSizes(total: number, seed: number, maxPiece: number): number[] {
  const rnd = seededBytes(4 * 100_000, seed);
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; sum < total; i++) {
    const r = rnd.readUInt32LE((4 * i) % rnd.length);
    const size = i % 7 === 0 ? 1 + (r % 3) : 1 + (r % maxPiece);
    out.push(size);
    sum += size;
  }
  return out;
}

describe('Chunker parameters', () => {
  it('min = avg/4, max = 4*avg, default avg 4 MiB, window 64', () => {
    expect(CHUNKER_WINDOW).toBe(64);
    expect(DEFAULT_AVG_CHUNK).toBe(4 * MiB);
    const d = new Chunker();
    expect([d.avg, d.min, d.max]).toEqual([4 * MiB, 1 * MiB, 16 * MiB]);
    const c = new Chunker(64 * KiB);
    expect([c.avg, c.min, c.max]).toEqual([64 * KiB, 16 * KiB, 256 * KiB]);
  });

  it('rejects averages that are not a power of two >= 256', () => {
    for (const avg of [0, 1, 128, 255, 1000, 3 * MiB, -256]) {
      expect(() => new Chunker(avg)).toThrow(RangeError);
    }
    expect(() => new Chunker(256)).not.toThrow();
  });

  it('the buzhash table has 256 distinct, well-mixed 32-bit values and is stable', () => {
    expect(BUZHASH_TABLE.length).toBe(256);
    expect(new Set(BUZHASH_TABLE).size).toBe(256);
    for (let bit = 0; bit < 32; bit++) {
      const ones = BUZHASH_TABLE.reduce((n, v) => n + ((v >>> bit) & 1), 0);
      expect(ones).toBeGreaterThan(96);
      expect(ones).toBeLessThan(160);
    }
    // Changing the table changes every chunk boundary and so de-duplication against older backups.
    const bytes = Buffer.from(BUZHASH_TABLE.buffer, BUZHASH_TABLE.byteOffset, BUZHASH_TABLE.byteLength);
    expect(sha256(bytes).toString('hex')).toBe('885450c8c4dc030c8301998f196da80e3ee4422380c570c8b70bfe7df37bc4ca');
  });
});

describe('Chunker boundaries', () => {
  it('follow the reference cut rule exactly (checked against a slow window-hash implementation)', () => {
    const cases = [[256, 11, 128 * KiB], [512, 12, 768 * KiB], [1024, 13, 256 * KiB], [4096, 14, 256 * KiB]] as const;
    for (const [avg, seed, length] of cases) {
      const data = seededBytes(length, seed);
      const expected = referenceBoundaries(data, avg);
      expect(boundaries(data, avg)).toEqual(expected);
      if (avg === 512) {
        // The data exercises the edge of the rule: chunks of exactly `min` bytes exist.
        expect(sizes(expected).filter((s) => s === avg / 4).length).toBeGreaterThan(0);
      }
    }
  });

  it('cut only at max on data whose window hash never matches (all zeros)', () => {
    const avg = 64 * KiB;
    const data = new Uint8Array(MiB + 1000);
    expect(boundaries(data, avg)).toEqual([256 * KiB, 512 * KiB, 768 * KiB, MiB, MiB + 1000]);
  });

  it('no chunk shorter than min except the last, none longer than max', () => {
    const avg = 64 * KiB;
    const data = seededBytes(16 * MiB + 123, 21);
    const s = sizes(boundaries(data, avg));
    expect(s.reduce((a, b) => a + b, 0)).toBe(data.length);
    expect(s.length).toBeGreaterThan(100);
    s.slice(0, -1).forEach((size) => {
      expect(size).toBeGreaterThanOrEqual(16 * KiB);
      expect(size).toBeLessThanOrEqual(256 * KiB);
    });
    expect(s[s.length - 1]!).toBeLessThanOrEqual(256 * KiB);
    expect(s[s.length - 1]!).toBeGreaterThan(0);
    // Random data still reaches the max now and then with this small average.
    const low = new Chunker(256);
    expect(sizes(boundaries(seededBytes(MiB, 22), 256)).filter((x) => x === low.max).length).toBeGreaterThan(0);
  });

  it('is deterministic, and a chunker is fully reset after each cut', () => {
    const data = seededBytes(4 * MiB, 23);
    const a = boundaries(data, 64 * KiB);
    const b = boundaries(data, 64 * KiB);
    expect(a).toEqual(b);
    // Chunking the data after a boundary on its own gives the same later boundaries.
    const cut = a[3]!;
    const tail = boundaries(data.subarray(cut), 64 * KiB).map((e) => e + cut);
    expect(tail).toEqual(a.slice(4));
  });

  it('feeding random-sized pieces gives the same boundaries as feeding all at once', () => {
    const data = seededBytes(4 * MiB, 24);
    const whole = boundaries(data, 64 * KiB);
    expect(boundaries(data, 64 * KiB, pieceSizes(data.length, 25, 200_000))).toEqual(whole);
    expect(boundaries(data, 64 * KiB, pieceSizes(data.length, 26, 100))).toEqual(whole);
    const small = seededBytes(256 * KiB, 27);
    expect(boundaries(small, 512, pieceSizes(small.length, 28, 70))).toEqual(boundaries(small, 512));
  });

  it('scan of an empty buffer returns 0 and does not disturb the state', () => {
    const data = seededBytes(2 * MiB, 29);
    const expected = boundaries(data, 64 * KiB);
    const c = new Chunker(64 * KiB);
    expect(c.scan(new Uint8Array(0))).toBe(0);
    const first = c.scan(data);
    expect(first).toBe(expected[0]);
    expect(c.scan(new Uint8Array(0))).toBe(0);
    expect(c.scan(data.subarray(first))).toBe(expected[1]! - first);
  });

  it('average chunk size on 64 MiB of random data with avg 1 MiB is within a reasonable band', () => {
    const data = seededBytes(64 * MiB, 30);
    const s = sizes(boundaries(data, MiB));
    const full = s.slice(0, -1);
    const mean = full.reduce((a, b) => a + b, 0) / full.length;
    // Expected about min + (2*avg/3)(1 - e^-4.5) = 0.91 MiB.
    expect(mean).toBeGreaterThan(0.7 * MiB);
    expect(mean).toBeLessThan(1.15 * MiB);
    expect(full.every((x) => x >= 256 * KiB && x <= 4 * MiB)).toBe(true);
  });

  it('is content-defined: an insertion near the start leaves later boundaries (shifted) in place', () => {
    const avg = 64 * KiB;
    const data = seededBytes(16 * MiB, 31);
    const inserted = Buffer.concat([data.subarray(0, 1000), Buffer.from('INSERT!'), data.subarray(1000)]);
    const a = boundaries(data, avg);
    const b = new Set(boundaries(inserted, avg));
    const later = a.filter((e) => e > 1 * MiB);
    const kept = later.filter((e) => b.has(e + 7)).length;
    expect(later.length).toBeGreaterThan(100);
    expect(kept / later.length).toBeGreaterThan(0.95);
    // Deleting bytes in the middle only disturbs chunks near the change.
    const del = Buffer.concat([data.subarray(0, 8 * MiB), data.subarray(8 * MiB + 3)]);
    const digestsA = new Set(chunkDigests(data, a));
    const digestsDel = chunkDigests(del, boundaries(del, avg));
    const changed = digestsDel.filter((d) => !digestsA.has(d)).length;
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThanOrEqual(3);
  });
});

function chunkDigests(data: Uint8Array, ends: number[]): string[] {
  return ends.map((e, i) => sha256(data.subarray(i === 0 ? 0 : ends[i - 1]!, e)).toString('hex'));
}
