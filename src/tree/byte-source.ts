/**
 * Pull-based reader over an async iterable of Buffers: exact-length reads for headers and
 * zero-copy pieces for file data. Holds at most one upstream chunk plus a partial header, so
 * memory stays bounded. An optional byte limit makes everything past it look like end of stream
 * (used to restore a subtree from a stream that continues after it).
 */
export class ByteSource {
  private readonly iterator: AsyncIterator<Buffer>;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private received = 0;
  private ended = false;
  /** Bytes handed out (or skipped) so far: the stream offset of the next byte. */
  position = 0;

  constructor(
    source: AsyncIterable<Buffer>,
    private readonly limit = Infinity,
  ) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Pulls one more upstream chunk; false at end of stream (or of the limit). */
  private async pull(): Promise<boolean> {
    while (!this.ended) {
      if (this.received >= this.limit) {
        this.ended = true;
        break;
      }
      const r = await this.iterator.next();
      if (r.done) {
        this.ended = true;
        break;
      }
      let chunk = r.value;
      if (chunk.length === 0) continue;
      if (this.received + chunk.length > this.limit) chunk = chunk.subarray(0, this.limit - this.received);
      this.received += chunk.length;
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      return true;
    }
    return false;
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0];
        const k = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    this.position += n;
    return out;
  }

  /** Exactly `n` bytes, or fewer only when the stream ends first. */
  async read(n: number): Promise<Buffer> {
    while (this.buffered < n && (await this.pull()));
    return this.take(Math.min(n, this.buffered));
  }

  /** The next piece of at most `max` bytes without copying; empty at end of stream. */
  async piece(max: number): Promise<Buffer> {
    if (this.buffered === 0 && !(await this.pull())) return Buffer.alloc(0);
    return this.take(Math.min(max, this.chunks[0].length));
  }

  /** Skips up to `n` bytes; returns how many were really there. */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const p = await this.piece(left);
      if (p.length === 0) break;
      left -= p.length;
    }
    return n - left;
  }

  /** Stops the upstream producer (we may not read it to its end). */
  async close(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    if (!this.ended) {
      this.ended = true;
      // Best effort: an error while stopping the producer must not hide the one that got us here.
      await Promise.resolve(this.iterator.return?.()).catch(() => undefined);
    }
  }
}
