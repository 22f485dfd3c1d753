/**
 * Buffers bytes arriving from a socket and hands them out in exact-size pieces, one awaiting
 * reader at a time (the handshake and the reply loop are both sequential readers).
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private available = 0;
  private waiter: { n: number; resolve: () => void; reject: (e: Error) => void } | undefined;
  private endError: Error | undefined;

  push(chunk: Buffer): void {
    if (this.endError) return;
    this.chunks.push(chunk);
    this.available += chunk.length;
    this.wake();
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

  /** Resolves with exactly `n` bytes. */
  async readExact(n: number): Promise<Buffer> {
    await this.waitFor(n);
    return this.take(n);
  }

  /**
   * Copies exactly `n` bytes into `target` at `at`: one copy from the socket's buffers straight
   * into the destination (4 MiB reads would otherwise be copied twice more on the way).
   */
  async readInto(target: Buffer, at: number, n: number): Promise<void> {
    await this.waitFor(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const want = n - filled;
      if (c.length <= want) {
        c.copy(target, at + filled);
        filled += c.length;
        this.chunks.shift();
      } else {
        c.copy(target, at + filled, 0, want);
        this.chunks[0] = c.subarray(want);
        filled += want;
      }
    }
    this.available -= n;
  }

  private waitFor(n: number): Promise<void> {
    if (this.waiter) return Promise.reject(new Error('ByteQueue: concurrent readers'));
    if (this.available >= n) return Promise.resolve();
    if (this.endError) return Promise.reject(this.endError);
    return new Promise((resolve, reject) => {
      this.waiter = { n, resolve, reject };
    });
  }

  private wake(): void {
    const w = this.waiter;
    if (w && this.available >= w.n) {
      this.waiter = undefined;
      w.resolve();
    }
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
