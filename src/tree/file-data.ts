/**
 * Reads a file's content for the archive in bounded pieces. The header already promised a size,
 * so a file that shrinks (or fails to read midway) is padded with zeros and one that grows is
 * cut: the stream stays valid and the caller gets told (`onChange`) so it can warn.
 */
import type { FileHandle } from 'node:fs/promises';
import { errnoCode } from '../errors.js';
import type { SparseRegion } from './sparse-map.js';

export const READ_PIECE = 1024 * 1024;

export type SizeChange = { kind: 'shrank' } | { kind: 'grew' } | { kind: 'read-error'; code: string };

/** Reads [offset, offset+length) as fresh buffers; past the end (or a read error) yields zeros. */
class RangeReader {
  stopped: SizeChange | undefined;
  constructor(private readonly fh: FileHandle) {}

  async *read(offset: number, length: number): AsyncGenerator<Buffer> {
    let pos = offset;
    const end = offset + length;
    while (pos < end) {
      const want = Math.min(READ_PIECE, end - pos);
      // A fresh buffer per piece: the consumer may hold on to what we yield.
      const buf = Buffer.allocUnsafe(want);
      let filled = 0;
      while (!this.stopped && filled < want) {
        try {
          const { bytesRead } = await this.fh.read(buf, filled, want - filled, pos + filled);
          if (bytesRead === 0) this.stopped = { kind: 'shrank' };
          filled += bytesRead;
        } catch (err) {
          this.stopped = { kind: 'read-error', code: errnoCode(err) ?? String(err) };
        }
      }
      if (filled < want) buf.fill(0, filled);
      pos += want;
      yield buf;
    }
  }
}

/** The whole file as `size` bytes, then a one-byte probe to notice growth. */
export async function* readFileData(fh: FileHandle, size: number, onChange: (c: SizeChange) => void): AsyncGenerator<Buffer> {
  const reader = new RangeReader(fh);
  yield* reader.read(0, size);
  if (reader.stopped) {
    onChange(reader.stopped);
    return;
  }
  try {
    if ((await fh.read(Buffer.alloc(1), 0, 1, size)).bytesRead > 0) onChange({ kind: 'grew' });
  } catch {
    // Everything promised was read; a failing probe changes nothing in the archive.
  }
}

/** The data regions of a sparse file, back to back (the layout of GNU sparse entries). */
export async function* readSparseRegions(
  fh: FileHandle,
  regions: readonly SparseRegion[],
  onChange: (c: SizeChange) => void,
): AsyncGenerator<Buffer> {
  const reader = new RangeReader(fh);
  for (const r of regions) yield* reader.read(r.offset, r.length);
  if (reader.stopped) onChange(reader.stopped);
}
