import { statSync } from 'node:fs';
import { GuestvaultError, errnoCode } from '../errors.js';
import { Chunker, encodeDynamicIndex, type DynamicEntry } from '../formats/index.js';
import { Progress } from '../tasks/index.js';
import { encodeCatalog, tarDirectory, type CatalogEntry } from '../tree/index.js';
import { emptyStats, type ArchiveStats, type BackupSession } from './backup-session.js';

/** The catalog blob that belongs to a tar archive: `root.tar` → `root.tar.catalog`. */
export function catalogName(archive: string): string {
  return `${archive.replace(/\.didx$/, '')}.catalog`;
}

/**
 * Back up a directory as `<name>.didx`: a pax tar stream cut into content-defined chunks, plus
 * `<name>.catalog.blob` listing every entry with its byte range in the stream.
 */
export async function addTree(session: BackupSession, name: string, dir: string, warn: (msg: string) => void): Promise<ArchiveStats> {
  const file = `${name}.didx`;
  session.checkArchiveName(file);
  try {
    if (!statSync(dir).isDirectory()) throw new GuestvaultError('E_SOURCE_TYPE', `source ${dir} is not a directory`);
  } catch (err) {
    if (err instanceof GuestvaultError) throw err;
    if (errnoCode(err) === 'ENOENT') throw new GuestvaultError('E_SOURCE_MISSING', `source ${dir} does not exist`);
    throw new GuestvaultError('E_SOURCE_UNREADABLE', `cannot read source ${dir}: ${(err as Error).message}`);
  }
  const started = Date.now();
  const stats = emptyStats(name, 0);
  const catalog: CatalogEntry[] = [];
  const entries: DynamicEntry[] = [];
  const progress = new Progress(name, undefined, session.progressSink);
  const key = session.crypt?.encKey;
  const store = session.store.path;
  const pool = session.pool;

  // Chunks are produced by the chunker in stream order and stored out of order by the pool.
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const chunker = new Chunker();
    let pending: Buffer[] = [];
    let pendingLen = 0;
    const take = (): Uint8Array => {
      // A fresh, unpooled buffer of its own, so it can be transferred to a worker.
      const out = new Uint8Array(pendingLen);
      let off = 0;
      for (const p of pending) {
        out.set(p, off);
        off += p.length;
      }
      pending = [];
      pendingLen = 0;
      return out;
    };
    for await (const piece of tarDirectory(dir, { onEntry: (e) => catalog.push(e), onWarning: warn })) {
      let data = piece;
      while (data.length > 0) {
        const cut = chunker.scan(data);
        if (cut === 0) {
          pending.push(data);
          pendingLen += data.length;
          break;
        }
        pending.push(data.subarray(0, cut));
        pendingLen += cut;
        yield take();
        data = data.subarray(cut);
      }
    }
    if (pendingLen > 0) yield take();
  }

  let end = 0;
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  for await (const chunk of chunks()) {
    if (failure !== undefined) break;
    const seq = entries.length;
    end += chunk.length;
    entries.push({ end, digest: Buffer.alloc(0) });
    const size = chunk.length;
    await pool.slot();
    const p: Promise<void> = pool.run({ op: 'store-data', store, data: chunk, key, compress: true }, [chunk.buffer as ArrayBuffer])
      .then((r) => {
        entries[seq]!.digest = Buffer.from(r.digest, 'hex');
        session.chunkStored(stats, r);
        progress.add(size);
      })
      .catch((err) => {
        failure ??= err;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  progress.finish();
  if (failure !== undefined) throw failure;

  stats.size = end;
  stats.seconds = (Date.now() - started) / 1000;
  const index = encodeDynamicIndex(entries, Math.floor(Date.now() / 1000));
  session.writeFileAtomic(file, index);
  session.addIndexFile({ filename: file, 'crypt-mode': session.cryptMode, size: end, csum: index.subarray(32, 64).toString('hex') }, stats);
  session.addBlob(catalogName(file), encodeCatalog(catalog));
  return stats;
}
