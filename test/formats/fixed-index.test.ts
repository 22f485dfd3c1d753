import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FIXED_CHUNK_SIZE,
  DIGEST_SIZE,
  DYNAMIC_INDEX_MAGIC,
  FIXED_INDEX_MAGIC,
  INDEX_HEADER_SIZE,
  decodeFixedIndex,
  encodeFixedIndex,
  fixedChunkCount,
  fixedChunkRange,
  fixedIndexCsum,
} from '../../src/formats/index.js';
import { expectFormatError, flipByte, seededBytes, sha256 } from './helpers.js';

const MiB = 1024 * 1024;
const UUID = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const CTIME = 1717600000;

function digests(n: number, seed = 1): Buffer[] {
  return Array.from({ length: n }, (_, i) => sha256(`chunk ${seed} ${i}`));
}

describe('fixed index constants', () => {
  it('magic = sha256("Proxmox Backup fixed sized chunk index v1.0")[0..8]', () => {
    expect(FIXED_INDEX_MAGIC.equals(sha256('Proxmox Backup fixed sized chunk index v1.0').subarray(0, 8))).toBe(true);
    expect([...FIXED_INDEX_MAGIC]).toEqual([47, 127, 65, 237, 145, 253, 15, 205]);
  });

  it('header 4096 bytes, 32-byte digests, 4 MiB default chunks', () => {
    expect(INDEX_HEADER_SIZE).toBe(4096);
    expect(DIGEST_SIZE).toBe(32);
    expect(DEFAULT_FIXED_CHUNK_SIZE).toBe(4 * MiB);
  });
});

describe('fixedChunkCount / fixedChunkRange', () => {
  it('counts ceil(size / chunk size)', () => {
    expect(fixedChunkCount(0, 4 * MiB)).toBe(0);
    expect(fixedChunkCount(1, 4 * MiB)).toBe(1);
    expect(fixedChunkCount(4 * MiB, 4 * MiB)).toBe(1);
    expect(fixedChunkCount(4 * MiB + 1, 4 * MiB)).toBe(2);
    expect(fixedChunkCount(32 * 1024 * MiB, 4 * MiB)).toBe(8192);
  });

  it('the last chunk may be short', () => {
    const idx = { size: 10 * MiB + 5, chunkSize: 4 * MiB };
    expect(fixedChunkRange(idx, 0)).toEqual([0, 4 * MiB]);
    expect(fixedChunkRange(idx, 1)).toEqual([4 * MiB, 8 * MiB]);
    expect(fixedChunkRange(idx, 2)).toEqual([8 * MiB, 10 * MiB + 5]);
    expect(fixedChunkRange({ size: 8 * MiB, chunkSize: 4 * MiB }, 1)).toEqual([4 * MiB, 8 * MiB]);
  });
});

describe('encodeFixedIndex', () => {
  const size = 10 * MiB + 5;
  const ds = digests(3);
  const buf = encodeFixedIndex({ size, chunkSize: 4 * MiB, digests: ds, ctime: CTIME, uuid: UUID });

  it('lays out the header as PBS does', () => {
    expect(buf.length).toBe(4096 + 3 * 32);
    expect([...buf.subarray(0, 8)]).toEqual([47, 127, 65, 237, 145, 253, 15, 205]);
    expect(buf.subarray(8, 24).equals(UUID)).toBe(true);
    expect(buf.readBigInt64LE(24)).toBe(BigInt(CTIME));
    expect(buf.subarray(32, 64).equals(sha256(...ds))).toBe(true);
    expect(buf.readBigUInt64LE(64)).toBe(BigInt(size));
    expect(buf.readBigUInt64LE(72)).toBe(BigInt(4 * MiB));
    expect(buf.subarray(80, 4096).every((b) => b === 0)).toBe(true);
  });

  it('writes the digests from offset 4096, 32 bytes each', () => {
    ds.forEach((d, i) => expect(buf.subarray(4096 + 32 * i, 4096 + 32 * (i + 1)).equals(d)).toBe(true));
  });

  it('writes little-endian integers (size above 4 GiB, negative ctime)', () => {
    const big = 5 * 1024 * MiB + 3;
    const n = fixedChunkCount(big, 4 * MiB);
    const b = encodeFixedIndex({ size: big, chunkSize: 4 * MiB, digests: digests(n), ctime: -5, uuid: UUID });
    expect(b.readUInt32LE(64)).toBe(big % 2 ** 32);
    expect(b.readUInt32LE(68)).toBe(Math.floor(big / 2 ** 32));
    expect([...b.subarray(72, 80)]).toEqual([0, 0, 0x40, 0, 0, 0, 0, 0]);
    expect(b.readBigInt64LE(24)).toBe(-5n);
    expect(decodeFixedIndex(b, 'big').ctime).toBe(-5);
  });

  it('csum = sha256(digest_0 || digest_1 || ...)', () => {
    expect(fixedIndexCsum(ds).equals(sha256(Buffer.concat(ds)))).toBe(true);
    expect(fixedIndexCsum([]).equals(sha256(''))).toBe(true);
    expect(fixedIndexCsum([ds[1]!, ds[0]!, ds[2]!]).equals(fixedIndexCsum(ds))).toBe(false);
  });

  it('uses a random uuid when none is given', () => {
    const a = encodeFixedIndex({ size, chunkSize: 4 * MiB, digests: ds, ctime: CTIME });
    const b = encodeFixedIndex({ size, chunkSize: 4 * MiB, digests: ds, ctime: CTIME });
    expect(a.subarray(8, 24).equals(b.subarray(8, 24))).toBe(false);
    expect(a.subarray(24).equals(b.subarray(24))).toBe(true);
  });

  it('refuses the wrong number of digests with E_INDEX_COUNT', () => {
    expectFormatError(() => encodeFixedIndex({ size, chunkSize: 4 * MiB, digests: digests(2), ctime: 0 }), 'E_INDEX_COUNT');
    expectFormatError(() => encodeFixedIndex({ size, chunkSize: 4 * MiB, digests: digests(4), ctime: 0 }), 'E_INDEX_COUNT');
  });

  it('refuses digests that are not 32 bytes with E_INDEX_DIGEST', () => {
    const bad = [...digests(2), Buffer.alloc(31)];
    expectFormatError(() => encodeFixedIndex({ size, chunkSize: 4 * MiB, digests: bad, ctime: 0 }), 'E_INDEX_DIGEST');
  });
});

describe('decodeFixedIndex', () => {
  const size = 3 * 64 * 1024 + 100;
  const ds = digests(4, 2);
  const buf = encodeFixedIndex({ size, chunkSize: 64 * 1024, digests: ds, ctime: CTIME, uuid: UUID });
  const what = 'vm/100/2024-06-05T15:06:40Z/drive-scsi0.img.fidx';

  it('round trips', () => {
    const idx = decodeFixedIndex(buf, what);
    expect(idx.uuid.equals(UUID)).toBe(true);
    expect(idx.ctime).toBe(CTIME);
    expect(idx.size).toBe(size);
    expect(idx.chunkSize).toBe(64 * 1024);
    expect(idx.digests.length).toBe(4);
    idx.digests.forEach((d, i) => expect(d.equals(ds[i]!)).toBe(true));
    expect(idx.csum.equals(sha256(...ds))).toBe(true);
  });

  it('returns values that do not alias the header', () => {
    const copy = Buffer.from(buf);
    const idx = decodeFixedIndex(copy, what);
    copy.fill(0, 8, 64);
    expect(idx.uuid.equals(UUID)).toBe(true);
    expect(idx.csum.equals(sha256(...ds))).toBe(true);
  });

  it('accepts every allowed chunk size (64 KiB .. 4 MiB) and an empty image', () => {
    for (const kib of [64, 128, 256, 512, 1024, 2048, 4096]) {
      const cs = kib * 1024;
      const b = encodeFixedIndex({ size: 2 * cs + 1, chunkSize: cs, digests: digests(3), ctime: 1, uuid: UUID });
      const idx = decodeFixedIndex(b, what);
      expect(idx.chunkSize).toBe(cs);
      expect(idx.digests.length).toBe(3);
    }
    const empty = encodeFixedIndex({ size: 0, chunkSize: 4 * MiB, digests: [], ctime: 1, uuid: UUID });
    expect(empty.length).toBe(4096);
    const idx = decodeFixedIndex(empty, what);
    expect(idx.size).toBe(0);
    expect(idx.digests).toEqual([]);
    expect(idx.csum.equals(sha256(''))).toBe(true);
  });

  it('truncated header: E_INDEX_TRUNCATED', () => {
    for (const len of [0, 8, 100, 4095]) {
      expectFormatError(() => decodeFixedIndex(buf.subarray(0, len), what), 'E_INDEX_TRUNCATED', what);
    }
  });

  it('truncated entries: E_INDEX_TRUNCATED', () => {
    expectFormatError(() => decodeFixedIndex(buf.subarray(0, buf.length - 32), what), 'E_INDEX_TRUNCATED', what);
    expectFormatError(() => decodeFixedIndex(buf.subarray(0, buf.length - 1), what), 'E_INDEX_TRUNCATED', what);
    expectFormatError(() => decodeFixedIndex(buf.subarray(0, 4096), what), 'E_INDEX_TRUNCATED', what);
  });

  it('trailing data: E_INDEX_OVERSIZED', () => {
    expectFormatError(() => decodeFixedIndex(Buffer.concat([buf, Buffer.alloc(32)]), what), 'E_INDEX_OVERSIZED', what);
    expectFormatError(() => decodeFixedIndex(Buffer.concat([buf, Buffer.alloc(1)]), what), 'E_INDEX_OVERSIZED', what);
  });

  it('wrong magic: E_INDEX_MAGIC (also for a dynamic index)', () => {
    expectFormatError(() => decodeFixedIndex(flipByte(buf, 0), what), 'E_INDEX_MAGIC', what);
    expectFormatError(() => decodeFixedIndex(flipByte(buf, 7, 0x80), what), 'E_INDEX_MAGIC', what);
    const dyn = Buffer.from(buf);
    DYNAMIC_INDEX_MAGIC.copy(dyn, 0);
    expectFormatError(() => decodeFixedIndex(dyn, what), 'E_INDEX_MAGIC', what);
  });

  it('flipped digest or csum byte: E_INDEX_CSUM', () => {
    expectFormatError(() => decodeFixedIndex(flipByte(buf, 4096), what), 'E_INDEX_CSUM', what);
    expectFormatError(() => decodeFixedIndex(flipByte(buf, buf.length - 1), what), 'E_INDEX_CSUM', what);
    expectFormatError(() => decodeFixedIndex(flipByte(buf, 4096 + 32 * 2 + 17, 0x10), what), 'E_INDEX_CSUM', what);
    expectFormatError(() => decodeFixedIndex(flipByte(buf, 32), what), 'E_INDEX_CSUM', what);
    expectFormatError(() => decodeFixedIndex(flipByte(buf, 63), what), 'E_INDEX_CSUM', what);
  });

  it('swapped digests: E_INDEX_CSUM', () => {
    const swapped = Buffer.from(buf);
    ds[1]!.copy(swapped, 4096);
    ds[0]!.copy(swapped, 4096 + 32);
    expectFormatError(() => decodeFixedIndex(swapped, what), 'E_INDEX_CSUM', what);
  });

  it('invalid chunk size: E_INDEX_CHUNK_SIZE', () => {
    for (const cs of [0, 1, 4096, 32 * 1024, 3 * MiB, 8 * MiB, 64 * 1024 + 1]) {
      const b = Buffer.from(buf);
      b.writeBigUInt64LE(BigInt(cs), 72);
      expectFormatError(() => decodeFixedIndex(b, what), 'E_INDEX_CHUNK_SIZE', what);
    }
  });

  it('a size that does not match the entry count is caught', () => {
    const b = Buffer.from(buf);
    b.writeBigUInt64LE(BigInt(size + 64 * 1024), 64);
    expectFormatError(() => decodeFixedIndex(b, what), 'E_INDEX_TRUNCATED', what);
    b.writeBigUInt64LE(BigInt(size - 64 * 1024), 64);
    expectFormatError(() => decodeFixedIndex(b, what), 'E_INDEX_OVERSIZED', what);
  });

  it('ignores the reserved area but keeps reading uuid and ctime', () => {
    const b = Buffer.from(buf);
    b.fill(0xee, 80, 4096);
    const random = seededBytes(16, 4);
    random.copy(b, 8);
    const idx = decodeFixedIndex(b, what);
    expect(idx.uuid.equals(random)).toBe(true);
    expect(idx.size).toBe(size);
  });
});
