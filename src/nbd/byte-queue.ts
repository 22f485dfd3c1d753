/**
 * Buffers bytes arriving from a socket and hands them out in exact-size pieces, one awaiting
 * reader at a time (the handshake and the reply loop are both sequential readers).
 *
 * The socket reads into one reused buffer (`transient` pushes), so nothing is allocated per read.
 * Bytes for a pending `readInto` are copied straight from that buffer to their destination; only
 * bytes nobody waits for yet are copied into the queue's own storage.
 */
type Waiter =
  | { kind: 'exact'; n: number; resolve: () => void; reject: (e: Error) => void }
  | { kind: 'into'; target: Buffer; at: number; remaining: number; resolve: () => void; reject: (e: Error) => void };

export class ByteQueue {
  private chunks: Buffer[] = [];
  private available = 0;
  private waiter: Waiter | undefined;
  private endError: Error | undefined;

  /** `transient`: `chunk` is reused by the caller after this returns, so keep a copy. */
  push(chunk: Buffer, transient = false): void {
    if (this.endError) return;
    const w = this.waiter;
    if (w?.kind === 'into') {
      const n = Math.min(w.remaining, chunk.length);
      chunk.copy(w.target, w.at, 0, n);
      w.at += n;
      w.remaining -= n;
      chunk = chunk.subarray(n);
      if (w.remaining === 0) {
        this.waiter = undefined;
        w.resolve();
      }
      if (chunk.length === 0) return;
    }
    const kept = transient ? Buffer.from(chunk) : chunk;
    this.chunks.push(kept);
    this.available += kept.length;
    const e = this.waiter;
    if (e?.kind === 'exact' && this.available >= e.n) {
      this.waiter = undefined;
      e.resolve();
    }
  }

  /** No more data will come; a pending or later read fails with `err`. */
  end(err: Error): void {
    if (this.endError) return;
    this.endError = err;
    const w = this.waiter;
    if (w && (w.kind === 'into' || this.available < w.n)) {
      this.waiter = undefined;
      w.reject(err);
    }
  }

  /** Resolves with exactly `n` bytes. */
  async readExact(n: number): Promise<Buffer> {
    if (this.waiter) throw new Error('ByteQueue: concurrent readers');
    if (this.available < n) {
      if (this.endError) throw this.endError;
      await new Promise<void>((resolve, reject) => {
        this.waiter = { kind: 'exact', n, resolve, reject };
      });
    }
    return this.take(n);
  }

  /** Copies exactly `n` bytes into `target` at `at`: from what is queued, then as they arrive. */
  async readInto(target: Buffer, at: number, n: number): Promise<void> {
    if (this.waiter) throw new Error('ByteQueue: concurrent readers');
    let filled = 0;
    while (filled < n && this.chunks.length > 0) {
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
    this.available -= filled;
    if (filled === n) return;
    if (this.endError) throw this.endError;
    await new Promise<void>((resolve, reject) => {
      this.waiter = { kind: 'into', target, at: at + filled, remaining: n - filled, resolve, reject };
    });
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
