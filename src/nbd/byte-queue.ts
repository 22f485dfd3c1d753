/**
 * Buffers bytes arriving from a socket during the handshake and hands them out in exact-size
 * pieces to one awaiting reader at a time. (Replies to requests bypass it: see reply-parser.ts.)
 */
interface Waiter {
  n: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class ByteQueue {
  private chunks: Buffer[] = [];
  private available = 0;
  private waiter: Waiter | undefined;
  private endError: Error | undefined;

  /** `transient`: `chunk` is reused by the caller after this returns, so keep a copy. */
  push(chunk: Buffer, transient = false): void {
    if (this.endError || chunk.length === 0) return;
    const kept = transient ? Buffer.from(chunk) : chunk;
    this.chunks.push(kept);
    this.available += kept.length;
    const w = this.waiter;
    if (w && this.available >= w.n) {
      this.waiter = undefined;
      w.resolve();
    }
  }

  /** No more data will come; a pending or later read fails with `err`. */
  end(err: Error): void {
    if (this.endError) return;
    this.endError = err;
    const w = this.waiter;
    if (w && this.available < w.n) {
      this.waiter = undefined;
      w.reject(err);
    }
  }

  /** Everything queued, as one buffer, leaving the queue empty. */
  drain(): Buffer {
    const all = Buffer.concat(this.chunks);
    this.chunks = [];
    this.available = 0;
    return all;
  }

  /** Resolves with exactly `n` bytes. */
  async readExact(n: number): Promise<Buffer> {
    if (this.waiter) throw new Error('ByteQueue: concurrent readers');
    if (this.available < n) {
      if (this.endError) throw this.endError;
      await new Promise<void>((resolve, reject) => {
        this.waiter = { n, resolve, reject };
      });
    }
    return this.take(n);
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length >= n) {
      // Fast path: the piece lies in the first chunk.
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.available -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const want = n - filled;
      if (c.length <= want) {
        c.copy(out, filled);
        filled += c.length;
        this.chunks.shift();
      } else {
        c.copy(out, filled, 0, want);
        this.chunks[0] = c.subarray(want);
        filled += want;
      }
    }
    this.available -= n;
    return out;
  }
}
