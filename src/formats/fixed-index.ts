import { createHash, randomBytes } from 'node:crypto';
import { FormatError } from './format-error.js';

/** sha256("Proxmox Backup fixed sized chunk index v1.0")[0..8] */
export const FIXED_INDEX_MAGIC = Buffer.from([47, 127, 65, 237, 145, 253, 15, 205]);
export const INDEX_HEADER_SIZE = 4096;
export const DIGEST_SIZE = 32;
/** The chunk size PBS uses for VM images. */
export const DEFAULT_FIXED_CHUNK_SIZE = 4 * 1024 * 1024;
const ALLOWED_CHUNK_SIZES = [64, 128, 256, 512, 1024, 2048, 4096].map((k) => k * 1024);

export interface FixedIndex {
  uuid: Buffer;
  ctime: number;
  /** Logical image size in bytes. */
  size: number;
  chunkSize: number;
  /** One 32-byte digest per chunk. */
  digests: Buffer[];
  csum: Buffer;
}

export function fixedChunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/** Byte range [start, end) of chunk i. */
export function fixedChunkRange(index: Pick<FixedIndex, 'size' | 'chunkSize'>, i: number): [number, number] {
  const start = i * index.chunkSize;
  return [start, Math.min(start + index.chunkSize, index.size)];
}

export function fixedIndexCsum(digests: readonly Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const d of digests) h.update(d);
  return h.digest();
}

/** Serialise a whole fixed index (header + digests); `ctime` in epoch seconds. */
export function encodeFixedIndex(opts: { size: number; chunkSize: number; digests: readonly Uint8Array[]; ctime: number; uuid?: Buffer }): Buffer {
  const count = fixedChunkCount(opts.size, opts.chunkSize);
  if (opts.digests.length !== count) {
    throw new FormatError('E_INDEX_COUNT', 'fixed index', `${opts.digests.length} digests for ${count} chunks`);
  }
  const buf = Buffer.alloc(INDEX_HEADER_SIZE + count * DIGEST_SIZE);
  FIXED_INDEX_MAGIC.copy(buf, 0);
  (opts.uuid ?? randomBytes(16)).copy(buf, 8);
  buf.writeBigInt64LE(BigInt(opts.ctime), 24);
  fixedIndexCsum(opts.digests).copy(buf, 32);
  buf.writeBigUInt64LE(BigInt(opts.size), 64);
  buf.writeBigUInt64LE(BigInt(opts.chunkSize), 72);
  opts.digests.forEach((d, i) => {
    if (d.length !== DIGEST_SIZE) throw new FormatError('E_INDEX_DIGEST', 'fixed index', `digest ${i} is ${d.length} bytes`);
    buf.set(d, INDEX_HEADER_SIZE + i * DIGEST_SIZE);
  });
  return buf;
}

/** Parse and fully check a fixed index: magic, chunk size, length and checksum. */
export function decodeFixedIndex(buf: Buffer, what: string): FixedIndex {
  if (buf.length < INDEX_HEADER_SIZE) {
    throw new FormatError('E_INDEX_TRUNCATED', what, `only ${buf.length} bytes, shorter than the ${INDEX_HEADER_SIZE}-byte header`);
  }
  if (!buf.subarray(0, 8).equals(FIXED_INDEX_MAGIC)) {
    throw new FormatError('E_INDEX_MAGIC', what, 'not a fixed index (wrong magic)');
  }
  const size = Number(buf.readBigUInt64LE(64));
  const chunkSize = Number(buf.readBigUInt64LE(72));
  if (!ALLOWED_CHUNK_SIZES.includes(chunkSize)) {
    throw new FormatError('E_INDEX_CHUNK_SIZE', what, `invalid chunk size ${chunkSize}`);
  }
  const count = fixedChunkCount(size, chunkSize);
  const expected = INDEX_HEADER_SIZE + count * DIGEST_SIZE;
  if (buf.length !== expected) {
    const how = buf.length < expected ? 'truncated' : 'has trailing data';
    throw new FormatError(buf.length < expected ? 'E_INDEX_TRUNCATED' : 'E_INDEX_OVERSIZED', what,
      `${how}: ${buf.length} bytes, expected ${expected} for ${count} chunks`);
  }
  const digests: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const off = INDEX_HEADER_SIZE + i * DIGEST_SIZE;
    digests.push(buf.subarray(off, off + DIGEST_SIZE));
  }
  const csum = Buffer.from(buf.subarray(32, 64));
  const actual = fixedIndexCsum(digests);
  if (!actual.equals(csum)) {
    throw new FormatError('E_INDEX_CSUM', what, 'index checksum mismatch: the index is corrupt');
  }
  return {
    uuid: Buffer.from(buf.subarray(8, 24)),
    ctime: Number(buf.readBigInt64LE(24)),
    size,
    chunkSize,
    digests,
    csum,
  };
}
