import { createHash, randomBytes, type Hash } from 'node:crypto';
import { FormatError } from './format-error.js';
import { DIGEST_SIZE, INDEX_HEADER_SIZE } from './fixed-index.js';

/** sha256("Proxmox Backup dynamic sized chunk index v1.0")[0..8] */
export const DYNAMIC_INDEX_MAGIC = Buffer.from([28, 145, 78, 165, 25, 186, 179, 205]);
export const DYNAMIC_ENTRY_SIZE = 8 + DIGEST_SIZE;

export interface DynamicEntry {
  /** Exclusive end offset of the chunk in the stream. */
  end: number;
  digest: Buffer;
}

export interface DynamicIndex {
  uuid: Buffer;
  ctime: number;
  entries: DynamicEntry[];
  csum: Buffer;
  /** Logical stream size = last end offset. */
  size: number;
}

export function dynamicHeader(ctime: number, csum: Uint8Array, uuid: Buffer = randomBytes(16)): Buffer {
  const h = Buffer.alloc(INDEX_HEADER_SIZE);
  DYNAMIC_INDEX_MAGIC.copy(h, 0);
  uuid.copy(h, 8);
  h.writeBigInt64LE(BigInt(ctime), 24);
  h.set(csum, 32);
  return h;
}

export function dynamicEntryBytes(end: number, digest: Uint8Array): Buffer {
  const e = Buffer.alloc(DYNAMIC_ENTRY_SIZE);
  e.writeBigUInt64LE(BigInt(end), 0);
  e.set(digest, 8);
  return e;
}

/** Incremental index checksum: SHA-256 over (end_le || digest) of every entry. */
export class DynamicCsum {
  private readonly hash: Hash = createHash('sha256');
  add(entry: Uint8Array): void {
    this.hash.update(entry);
  }
  digest(): Buffer {
    return this.hash.digest();
  }
}

export function encodeDynamicIndex(entries: readonly DynamicEntry[], ctime: number): Buffer {
  const csum = new DynamicCsum();
  const body = entries.map((e) => {
    const b = dynamicEntryBytes(e.end, e.digest);
    csum.add(b);
    return b;
  });
  return Buffer.concat([dynamicHeader(ctime, csum.digest()), ...body]);
}

export function decodeDynamicIndex(buf: Buffer, what: string): DynamicIndex {
  if (buf.length < INDEX_HEADER_SIZE) {
    throw new FormatError('E_INDEX_TRUNCATED', what, `only ${buf.length} bytes, shorter than the ${INDEX_HEADER_SIZE}-byte header`);
  }
  if (!buf.subarray(0, 8).equals(DYNAMIC_INDEX_MAGIC)) {
    throw new FormatError('E_INDEX_MAGIC', what, 'not a dynamic index (wrong magic)');
  }
  const bodyLen = buf.length - INDEX_HEADER_SIZE;
  if (bodyLen % DYNAMIC_ENTRY_SIZE !== 0) {
    throw new FormatError('E_INDEX_TRUNCATED', what, `entry area of ${bodyLen} bytes is not a multiple of ${DYNAMIC_ENTRY_SIZE}`);
  }
  const csum = new DynamicCsum();
  const entries: DynamicEntry[] = [];
  let prev = 0;
  for (let off = INDEX_HEADER_SIZE; off < buf.length; off += DYNAMIC_ENTRY_SIZE) {
    const raw = buf.subarray(off, off + DYNAMIC_ENTRY_SIZE);
    csum.add(raw);
    const end = Number(raw.readBigUInt64LE(0));
    if (end <= prev) {
      throw new FormatError('E_INDEX_ORDER', what, `entry ${entries.length} ends at ${end}, not after ${prev}`);
    }
    prev = end;
    entries.push({ end, digest: raw.subarray(8) });
  }
  const stored = Buffer.from(buf.subarray(32, 64));
  if (!csum.digest().equals(stored)) {
    throw new FormatError('E_INDEX_CSUM', what, 'index checksum mismatch: the index is corrupt');
  }
  return {
    uuid: Buffer.from(buf.subarray(8, 24)),
    ctime: Number(buf.readBigInt64LE(24)),
    entries,
    csum: stored,
    size: entries.length ? entries[entries.length - 1]!.end : 0,
  };
}

/** Index of the chunk holding stream offset `pos` (binary search over end offsets), or -1. */
export function dynamicChunkAt(entries: readonly DynamicEntry[], pos: number): number {
  if (pos < 0) return -1;
  let lo = 0;
  let hi = entries.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (entries[mid]!.end > pos) {
      found = mid;
      hi = mid - 1;
    } else lo = mid + 1;
  }
  return found;
}

export function dynamicChunkStart(entries: readonly DynamicEntry[], i: number): number {
  return i === 0 ? 0 : entries[i - 1]!.end;
}
