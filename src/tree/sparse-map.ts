/**
 * Sparse files: finding the data regions of a file, and the GNU sparse 1.0 map that precedes the
 * data of such an entry (decimal "count\n" then "offset\nlength\n" per region, padded to 512 bytes).
 * Node has no SEEK_HOLE/SEEK_DATA, so holes are found by reading: any 4 KiB-aligned all-zero
 * block counts as a hole, which is also what a restore may leave unallocated without changing content.
 */
import type { FileHandle } from 'node:fs/promises';
import { GuestvaultError } from '../errors.js';
import { BLOCK } from './ustar-header.js';

export interface SparseRegion {
  offset: number;
  length: number;
}

export const SCAN_BLOCK = 4096;
const SCAN_PIECE = 1024 * 1024;
const ZERO = Buffer.alloc(SCAN_PIECE);

function isZero(buf: Buffer, start: number, end: number): boolean {
  return buf.subarray(start, end).equals(ZERO.subarray(0, end - start));
}

/**
 * Reads the file once and returns its non-zero regions (4 KiB granularity, adjacent blocks merged).
 * `short` is true when the file ended before `size` (it shrank while we looked).
 */
export async function scanDataRegions(fh: FileHandle, size: number): Promise<{ regions: SparseRegion[]; short: boolean }> {
  const regions: SparseRegion[] = [];
  const buf = Buffer.allocUnsafe(SCAN_PIECE);
  let pos = 0;
  const addData = (offset: number, length: number): void => {
    const last = regions[regions.length - 1];
    if (last && last.offset + last.length === offset) last.length += length;
    else regions.push({ offset, length });
  };
  while (pos < size) {
    const want = Math.min(SCAN_PIECE, size - pos);
    const { bytesRead } = await fh.read(buf, 0, want, pos);
    if (bytesRead === 0) return { regions, short: true };
    // Fast path: a whole piece of zeros (the usual case inside a hole).
    if (!isZero(buf, 0, bytesRead)) {
      for (let b = 0; b < bytesRead; b += SCAN_BLOCK) {
        const end = Math.min(b + SCAN_BLOCK, bytesRead);
        if (!isZero(buf, b, end)) addData(pos + b, end - b);
      }
    }
    pos += bytesRead;
  }
  return { regions, short: false };
}

/**
 * The 1.0 map block(s). Like GNU tar we end with an empty region at `realSize` when the file
 * ends in a hole, so readers that only extend files by writing still get the right size.
 */
export function encodeSparseMap(regions: readonly SparseRegion[], realSize: number): Buffer {
  const list = [...regions];
  const last = list[list.length - 1];
  if (!last || last.offset + last.length < realSize) list.push({ offset: realSize, length: 0 });
  const text = `${list.length}\n${list.map((r) => `${r.offset}\n${r.length}\n`).join('')}`;
  const padded = Buffer.alloc(Math.ceil(text.length / BLOCK) * BLOCK);
  padded.write(text, 'ascii');
  return padded;
}

export function sparseDataSize(regions: readonly SparseRegion[]): number {
  return regions.reduce((n, r) => n + r.length, 0);
}

/**
 * Parses a 1.0 map from the start of an entry's data, pulling 512-byte blocks as needed.
 * `storedSize` bounds the region count so garbage cannot make us allocate without end.
 */
export async function readSparseMap(
  nextBlock: () => Promise<Buffer>,
  storedSize: number,
  offset: number,
): Promise<{ regions: SparseRegion[]; mapBytes: number }> {
  const numbers: number[] = [];
  let count = -1;
  let digits = '';
  let mapBytes = 0;
  const corrupt = (why: string): GuestvaultError =>
    new GuestvaultError('E_TAR_CORRUPT', `sparse map of the entry at offset ${offset}: ${why}`);
  while (count < 0 || numbers.length < 2 * count) {
    if (mapBytes + BLOCK > storedSize) throw corrupt('runs past the entry data');
    const block = await nextBlock();
    mapBytes += BLOCK;
    for (let i = 0; i < BLOCK && (count < 0 || numbers.length < 2 * count); i++) {
      const c = block[i];
      if (c >= 0x30 && c <= 0x39) {
        digits += String.fromCharCode(c);
        if (digits.length > 20) throw corrupt('number too long');
      } else if (c === 0x0a && digits !== '') {
        const n = Number(digits);
        digits = '';
        if (count < 0) {
          // Each region needs at least 4 bytes of map ("0\n0\n"), which bounds a sane count.
          if (n > storedSize / 4) throw corrupt(`implausible region count ${n}`);
          count = n;
        } else {
          numbers.push(n);
        }
      } else {
        throw corrupt(`unexpected byte 0x${c.toString(16)}`);
      }
    }
  }
  const regions: SparseRegion[] = [];
  for (let i = 0; i < numbers.length; i += 2) regions.push({ offset: numbers[i], length: numbers[i + 1] });
  return { regions, mapBytes };
}
