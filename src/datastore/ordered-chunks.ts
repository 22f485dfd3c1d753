import type { ChunkPool } from './chunk-pool.js';

export interface ChunkRef {
  digest: string;
  size: number;
}

/**
 * Fetch and decode chunks in parallel through the pool and yield their data in order. At most
 * the pool's in-flight limit of chunks is held in memory.
 */
export async function* orderedChunks(pool: ChunkPool, store: string, chunks: readonly ChunkRef[], key?: Uint8Array): AsyncGenerator<Buffer> {
  const window: Promise<Buffer>[] = [];
  let next = 0;
  const launch = async (): Promise<void> => {
    await pool.slot();
    const c = chunks[next++]!;
    const p = pool.run({ op: 'load', store, digest: c.digest, size: c.size, key }).then((r) => Buffer.from(r.data!.buffer, r.data!.byteOffset, r.data!.byteLength));
    // Attach a handler now so an early failure is not reported as unhandled; it is rethrown in order.
    p.catch(() => undefined);
    window.push(p);
  };
  try {
    while (next < chunks.length && window.length < pool.maxInFlight) await launch();
    while (window.length > 0) {
      const data = await window.shift()!;
      if (next < chunks.length) await launch();
      yield data;
    }
  } finally {
    // On early exit (error, consumer stopped), let the remaining loads settle quietly.
    await Promise.allSettled(window);
  }
}
