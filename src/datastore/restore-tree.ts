import { GuestvaultError } from '../errors.js';
import { dynamicChunkAt, dynamicChunkStart, type DynamicIndex } from '../formats/index.js';
import { Progress, type ProgressSink } from '../tasks/index.js';
import { catalogRange, decodeCatalog, extractTar } from '../tree/index.js';
import type { ChunkPool } from './chunk-pool.js';
import { orderedChunks } from './ordered-chunks.js';

export interface RestoreTreeOptions {
  pool: ChunkPool;
  store: string;
  key?: Uint8Array;
  progress: ProgressSink;
  label: string;
  warn: (msg: string) => void;
  /** Restore only this path (a file or a subtree), found through the catalog. */
  path?: string;
  /** The decoded catalog blob; required with `path`. */
  catalog?: Buffer;
}

/** The stream bytes [start, end) as ordered chunk data, fetching only the chunks that hold them. */
async function* streamRange(index: DynamicIndex, start: number, end: number, opts: RestoreTreeOptions): AsyncGenerator<Buffer> {
  if (end <= start) return;
  const first = dynamicChunkAt(index.entries, start);
  const last = dynamicChunkAt(index.entries, end - 1);
  const refs = index.entries.slice(first, last + 1).map((e, k) => ({
    digest: e.digest.toString('hex'),
    size: e.end - dynamicChunkStart(index.entries, first + k),
  }));
  let pos = dynamicChunkStart(index.entries, first);
  for await (const data of orderedChunks(opts.pool, opts.store, refs, opts.key)) {
    const from = Math.max(0, start - pos);
    const to = Math.min(data.length, end - pos);
    pos += data.length;
    if (to > from) yield data.subarray(from, to);
  }
}

/** Restore a tar archive (all of it, or one path using the catalog) into a directory. */
export async function restoreTree(index: DynamicIndex, targetDir: string, opts: RestoreTreeOptions): Promise<{ entries: number; bytes: number }> {
  let start = 0;
  let end = index.size;
  if (opts.path !== undefined) {
    if (!opts.catalog) throw new GuestvaultError('E_CATALOG_MISSING', 'this archive has no catalog; restore it whole');
    const wanted = opts.path.replace(/^\.?\/+|\/+$/g, '');
    const found = catalogRange(decodeCatalog(opts.catalog, `${opts.label} catalog`), wanted);
    if (!found) throw new GuestvaultError('E_PATH_UNKNOWN', `'${opts.path}' is not in archive ${opts.label}`);
    start = found.start;
    end = found.end;
  }
  const progress = new Progress(opts.label, end - start, opts.progress);
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const piece of streamRange(index, start, end, opts)) {
      progress.add(piece.length);
      yield piece;
    }
  }
  try {
    return await extractTar(counted(), targetDir, { onWarning: opts.warn });
  } finally {
    progress.finish();
  }
}
