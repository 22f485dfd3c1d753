import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupSession } from '../../src/datastore/backup-session.js';
import { ChunkPool } from '../../src/datastore/chunk-pool.js';
import { chunkPath } from '../../src/datastore/chunk-store.js';
import { Datastore } from '../../src/datastore/datastore.js';
import { addImageStream, previousImageIndex, touchChunks, type ImageReader } from '../../src/datastore/image-stream.js';
import type { GroupRef } from '../../src/datastore/names.js';
import { decodeFixedIndex } from '../../src/formats/index.js';
import { MiB, randomData } from '../helpers/data.js';

/** An image in memory that counts which chunks were read (the NBD reader's part in a VM backup). */
function memoryReader(image: Buffer, zero: Set<number> = new Set()): ImageReader & { reads: number[]; returned: number; done: number[] } {
  const reads: number[] = [];
  const r = {
    size: image.length,
    reads,
    /** Reads that have returned, and their count at each readsDone call. */
    returned: 0,
    done: [] as number[],
    isZero: (i: number) => zero.has(i),
    read: async (offset: number, length: number, target?: Buffer) => {
      reads.push(offset / (4 * MiB));
      const out = target ? Buffer.from(target.buffer, target.byteOffset, length) : Buffer.alloc(length);
      image.copy(out, 0, offset, offset + length);
      await new Promise((res) => setTimeout(res, 2));
      r.returned++;
      return out;
    },
    readsDone: () => void r.done.push(r.returned),
  };
  return r;
}

describe('image streams with a base (the incremental path of VM backups)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gv-imgstream-'));
  const savedHome = process.env.GUESTVAULT_HOME;
  const group: GroupRef = { ns: [], type: 'vm', id: '100' };
  const pool = new ChunkPool(0);
  let store: Datastore;
  // 6 chunks of 4 MiB, all different, the last one short.
  const image = randomData(22 * MiB + 4096, 11);

  beforeAll(() => {
    process.env.GUESTVAULT_HOME = join(dir, 'home');
    store = Datastore.create('main', join(dir, 'store'));
  });
  afterAll(async () => {
    await pool.close();
    if (savedHome === undefined) delete process.env.GUESTVAULT_HOME;
    else process.env.GUESTVAULT_HOME = savedHome;
    rmSync(dir, { recursive: true, force: true });
  });

  /** `early`: the base's chunks are touched before the stream starts, as a VM backup's sink does. */
  async function backup(reader: ImageReader, changed?: Set<number>, early = false) {
    const session = await BackupSession.start(store, group, { owner: 'root@pam', pool });
    let base;
    if (changed) {
      const prev = previousImageIndex(session, 'drive-virtio0.img.fidx', reader.size);
      if (!('digests' in prev)) throw new Error(prev.reason);
      const touched = early ? touchChunks(pool, store.path, [...new Set(prev.digests.map((d) => d.toString('hex')))]) : undefined;
      base = { digests: prev.digests, changed: (i: number) => changed.has(i), touched };
    }
    const stats = await addImageStream(session, 'drive-virtio0.img', reader, base);
    const doneBeforeEnd = [...(reader as ReturnType<typeof memoryReader>).done];
    const snap = await session.finish();
    const index = decodeFixedIndex(readFileSync(join(store.snapshotDir(snap), 'drive-virtio0.img.fidx')), 'index');
    return { stats, index, doneBeforeEnd };
  }

  it('reads only the changed chunks, touches the reused ones, and re-reads a reused chunk that is gone', async () => {
    const full = memoryReader(image);
    const first = await backup(full);
    expect(first.stats.readBytes).toBe(image.length);
    // The source heard once, before the stream ended, that all 6 reads had returned.
    expect(first.doneBeforeEnd).toEqual([6]);

    // Chunk 2 changes; chunk 4's file disappears from the store (removed by hand); chunk 1's
    // file is old and must be touched (atime) by the reuse.
    image.fill(0x5a, 2 * 4 * MiB + 100, 2 * 4 * MiB + 200);
    const hex = (i: number) => first.index.digests[i]!.toString('hex');
    unlinkSync(chunkPath(store.path, hex(4)));
    const before = statSync(chunkPath(store.path, hex(1))).atimeMs;
    await new Promise((r) => setTimeout(r, 20));

    const reader = memoryReader(image);
    const second = await backup(reader, new Set([2]));
    expect(reader.reads.sort()).toEqual([2, 4]);
    // Not before the missing chunk was read again.
    expect(second.doneBeforeEnd).toEqual([2]);
    expect(second.stats.reusedChunks).toBe(4);
    expect(second.stats.readBytes).toBe(8 * MiB);
    expect(second.index.digests.map((d) => d.toString('hex'))).toEqual(
      first.index.digests.map((d, i) => (i === 2 ? second.index.digests[2]!.toString('hex') : d.toString('hex'))),
    );
    expect(second.index.digests[2]!.equals(first.index.digests[2]!)).toBe(false);
    // The lost chunk is back, and the reused one was touched.
    expect(statSync(chunkPath(store.path, hex(4))).size).toBeGreaterThan(0);
    expect(statSync(chunkPath(store.path, hex(1))).atimeMs).toBeGreaterThan(before);
  });

  it('tells the source that the reads are over only once none is left, with zero chunks and reused ones in between', async () => {
    const reader = memoryReader(image, new Set([0, 5]));
    const { stats, doneBeforeEnd } = await backup(reader, new Set([0, 3, 5]));
    // Chunks 0 and 5 are zero (not read), 3 changed, the rest reused.
    expect(reader.reads).toEqual([3]);
    expect(stats.reusedChunks).toBe(3);
    expect(doneBeforeEnd).toEqual([1]);
  });

  it('with the base touched before the stream: reused chunks are touched, and one found missing is read again', async () => {
    const first = await backup(memoryReader(image));
    const hex = (i: number) => first.index.digests[i]!.toString('hex');
    unlinkSync(chunkPath(store.path, hex(3)));
    const before = statSync(chunkPath(store.path, hex(1))).atimeMs;
    await new Promise((r) => setTimeout(r, 20));
    const reader = memoryReader(image);
    const second = await backup(reader, new Set([0]), true);
    expect(reader.reads.sort()).toEqual([0, 3]);
    expect(second.doneBeforeEnd).toEqual([2]);
    expect(second.index.digests.map((d) => d.toString('hex'))).toEqual(first.index.digests.map((d) => d.toString('hex')));
    expect(statSync(chunkPath(store.path, hex(3))).size).toBeGreaterThan(0);
    expect(statSync(chunkPath(store.path, hex(1))).atimeMs).toBeGreaterThan(before);
  });
});
