import { closeSync, ftruncateSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { GuestvaultError, errnoCode } from '../errors.js';
import { fixedChunkRange, type FixedIndex } from '../formats/index.js';
import { Progress, type ProgressSink } from '../tasks/index.js';
import { runBounded } from './backup-session.js';
import type { ChunkPool } from './chunk-pool.js';
import { orderedChunks } from './ordered-chunks.js';

export interface RestoreImageOptions {
  pool: ChunkPool;
  store: string;
  key?: Uint8Array;
  progress: ProgressSink;
  label: string;
  /** Allow replacing an existing regular file. */
  force?: boolean;
  /**
   * The target is an empty file created for this restore (a new volume): written in place, not
   * under a temporary name. Renaming over an existing file makes ext4 start the write-back of
   * the whole new file inside rename() (auto_da_alloc): 0.26 s for 1.4 GiB here. On failure
   * the file is left to its creator.
   */
  inPlace?: boolean;
}

function chunkList(index: FixedIndex) {
  return index.digests.map((d, i) => {
    const [s, e] = fixedChunkRange(index, i);
    return { digest: d.toString('hex'), size: e - s, offset: s };
  });
}

/**
 * Restore a fixed-index image to a file (sparse: zero chunks are holes), a block device, or a
 * stream (`-` = stdout, in order). A file is written under a temporary name and renamed when
 * complete, so a failed restore never leaves something that looks like the image.
 */
export async function restoreImage(index: FixedIndex, target: string | Writable, opts: RestoreImageOptions): Promise<void> {
  const chunks = chunkList(index);
  const progress = new Progress(opts.label, index.size, opts.progress);
  if (typeof target !== 'string') {
    for await (const data of orderedChunks(opts.pool, opts.store, chunks, opts.key)) {
      if (!target.write(data)) await once(target, 'drain');
      progress.add(data.length);
    }
    progress.finish();
    return;
  }
  let isDevice = false;
  try {
    const st = statSync(target);
    isDevice = st.isBlockDevice();
    if (!isDevice && !opts.force) {
      throw new GuestvaultError('E_TARGET_EXISTS', `restore target ${target} exists; remove it or use --force to replace it`);
    }
  } catch (err) {
    if (err instanceof GuestvaultError) throw err;
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  const direct = isDevice || opts.inPlace === true;
  const writePath = direct ? target : `${target}.partial`;
  try {
    const fd = openSync(writePath, direct ? 'r+' : 'w');
    if (!isDevice) ftruncateSync(fd, index.size);
    closeSync(fd);
  } catch (err) {
    throw new GuestvaultError('E_TARGET_WRITE', `cannot write restore target ${target}: ${(err as Error).message}`);
  }
  try {
    await runBounded(opts.pool, chunks.length, async (i) => {
      const c = chunks[i]!;
      await opts.pool.run({ op: 'load', store: opts.store, digest: c.digest, size: c.size, key: opts.key, target: { path: writePath, offset: c.offset, sparse: !isDevice } });
      progress.add(c.size);
    });
    progress.finish();
    if (!direct) renameSync(writePath, target);
  } catch (err) {
    progress.finish();
    if (!direct) rmSync(writePath, { force: true });
    throw err;
  }
}
