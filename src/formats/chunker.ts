/**
 * Content-defined chunker: a buzhash over a 64-byte rolling window, with PBS's cut rule
 * (min = avg/4, max = 4*avg, cut where (h & (2*avg-1)) >= 2*avg-3). The table is our own,
 * generated from a fixed seed: boundaries only need to be stable for our own de-duplication.
 */
export const CHUNKER_WINDOW = 64;
export const DEFAULT_AVG_CHUNK = 4 * 1024 * 1024;

function makeTable(): Int32Array {
  // splitmix32 from a fixed seed; any well-mixed 32-bit values work for buzhash.
  const t = new Int32Array(256);
  let s = 0x9e3779b9 | 0;
  for (let i = 0; i < 256; i++) {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    t[i] = z ^ (z >>> 16);
  }
  return t;
}

export const BUZHASH_TABLE: Int32Array = makeTable();

export class Chunker {
  readonly min: number;
  readonly max: number;
  private readonly mask: number;
  private readonly threshold: number;
  private h = 0;
  private readonly window = new Uint8Array(CHUNKER_WINDOW);
  private windowFill = 0;
  private windowPos = 0;
  private chunkSize = 0;

  constructor(readonly avg: number = DEFAULT_AVG_CHUNK) {
    if (avg < 64 * 4 || (avg & (avg - 1)) !== 0) throw new RangeError(`average chunk size ${avg} must be a power of two >= 256`);
    this.min = avg / 4;
    this.max = avg * 4;
    this.mask = 2 * avg - 1;
    this.threshold = this.mask - 2;
  }

  /**
   * Feed bytes; returns how many bytes of `data` complete the current chunk (a boundary), or 0
   * when the whole of `data` belongs to the current chunk. After a boundary, call again with the
   * rest of the data.
   */
  scan(data: Uint8Array): number {
    const T = BUZHASH_TABLE;
    const win = this.window;
    const len = data.length;
    let pos = 0;
    // No cut can happen before `min`, and the hash at a position depends only on the last 64
    // bytes, so the first min-65 bytes need not be hashed at all. The window fill checks no
    // boundary, so it must end at min-1 bytes: PBS's rule allows a cut at exactly `min` bytes.
    const skipTo = this.min - CHUNKER_WINDOW - 1;
    if (this.chunkSize < skipTo) {
      const skip = Math.min(skipTo - this.chunkSize, len);
      this.chunkSize += skip;
      pos = skip;
    }
    let h = this.h;
    let chunkSize = this.chunkSize;
    while (pos < len && this.windowFill < CHUNKER_WINDOW) {
      const b = data[pos++]!;
      h = ((h << 1) | (h >>> 31)) ^ T[b]!;
      win[this.windowFill++] = b;
      chunkSize++;
    }
    let wpos = this.windowPos;
    const { min, max, mask, threshold } = this;
    while (pos < len) {
      const b = data[pos++]!;
      h = ((h << 1) | (h >>> 31)) ^ T[win[wpos]!]! ^ T[b]!;
      win[wpos] = b;
      wpos = (wpos + 1) & (CHUNKER_WINDOW - 1);
      chunkSize++;
      if (chunkSize >= max || (chunkSize >= min && (h & mask) >= threshold)) {
        this.reset();
        return pos;
      }
    }
    this.h = h;
    this.windowPos = wpos;
    this.chunkSize = chunkSize;
    return 0;
  }

  private reset(): void {
    this.h = 0;
    this.windowFill = 0;
    this.windowPos = 0;
    this.chunkSize = 0;
  }
}
