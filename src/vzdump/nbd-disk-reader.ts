/**
 * An NBD export of a point-in-time disk as the datastore's ImageReader: block status tells which
 * 4 MiB chunks are all zero (not read) and, with a dirty-bitmap context, which changed.
 */
import { DEFAULT_FIXED_CHUNK_SIZE, fixedChunkCount } from '../formats/index.js';
import { GuestvaultError } from '../errors.js';
import { NbdClient, NBD_STATE_DIRTY, NBD_STATE_ZERO } from '../nbd/index.js';
import type { ImageReader } from '../datastore/index.js';
import type { RateLimiter } from './rate-limit.js';

export interface NbdDiskReader extends ImageReader {
  client: NbdClient;
  /** Chunks the dirty bitmap marks as changed (undefined without a dirty context). */
  changed?: Uint8Array;
  changedCount: number;
  zeroCount: number;
}

export async function openNbdDisk(socket: string, exportName: string, dirtyContext: string | undefined, signal?: AbortSignal, limiter?: RateLimiter): Promise<NbdDiskReader> {
  const contexts = ['base:allocation', ...(dirtyContext ? [dirtyContext] : [])];
  const client = await NbdClient.connect({ path: socket, exportName, metaContexts: contexts, timeoutMs: 60_000 });
  try {
    const size = client.size;
    const chunk = DEFAULT_FIXED_CHUNK_SIZE;
    const count = fixedChunkCount(size, chunk);
    const nonZero = new Uint8Array(count);
    const mark = (arr: Uint8Array, offset: number, length: number) => {
      for (let i = Math.floor(offset / chunk); i * chunk < offset + length && i < count; i++) arr[i] = 1;
    };
    const changed = dirtyContext ? new Uint8Array(count) : undefined;
    // Both contexts asked at once: their requests are in flight together.
    await Promise.all([
      (async () => {
        for await (const e of client.extents('base:allocation')) if (!(e.flags & NBD_STATE_ZERO)) mark(nonZero, e.offset, e.length);
      })(),
      (async () => {
        if (!dirtyContext || !changed) return;
        for await (const e of client.extents(dirtyContext)) if (e.flags & NBD_STATE_DIRTY) mark(changed, e.offset, e.length);
      })(),
    ]);
    return {
      client,
      size,
      changed,
      changedCount: changed ? changed.reduce((a, b) => a + b, 0) : count,
      zeroCount: count - nonZero.reduce((a, b) => a + b, 0),
      isZero: (i) => nonZero[i] === 0,
      read: async (offset, length, target) => {
        if (limiter) await limiter.take(length);
        if (signal?.aborted) throw new GuestvaultError('E_INTERRUPTED', 'backup interrupted by signal');
        return client.read(offset, length, target);
      },
    };
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }
}
