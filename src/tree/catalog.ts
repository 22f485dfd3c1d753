/**
 * The catalog: one record per archive entry with its byte range in the tar stream, so a single
 * file or subtree can be restored by fetching only those bytes. Stored in our own format:
 * a magic line, then one compact JSON array per entry (fields in a fixed order).
 */
import { GuestvaultError } from '../errors.js';
import { TYPEFLAG, type EntryType } from './entry-header.js';

export interface CatalogEntry {
  /** Relative POSIX path inside the archive, no leading './', directories without trailing slash. */
  path: string;
  type: EntryType;
  /** Byte offset of the first header of this entry (its pax header if it has one). */
  offset: number;
  /** Byte offset just after this entry's padded data. */
  end: number;
  /** File size (real size for sparse files), 0 for everything else. */
  size: number;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds, fractional. */
  mtime: number;
  /** Symlink target, or the archive path a hard link points to. */
  target?: string;
}

const MAGIC = 'guestvault-catalog 1';
const TYPE_BY_FLAG = new Map(Object.entries(TYPEFLAG).map(([type, flag]) => [flag, type as EntryType]));

export function encodeCatalog(entries: CatalogEntry[]): Buffer {
  const lines = [MAGIC];
  for (const e of entries) {
    const row: unknown[] = [e.path, TYPEFLAG[e.type], e.offset, e.end, e.size, e.mode, e.uid, e.gid, e.mtime];
    if (e.target !== undefined) row.push(e.target);
    lines.push(JSON.stringify(row));
  }
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export function decodeCatalog(buf: Buffer, what: string): CatalogEntry[] {
  const bad = (detail: string): GuestvaultError => new GuestvaultError('E_CATALOG_CORRUPT', `${what}: ${detail}`);
  const text = buf.toString('utf8');
  const lines = text.split('\n');
  if (lines[0] !== MAGIC) throw bad(`not a guestvault catalog (expected first line ${JSON.stringify(MAGIC)})`);
  if (lines[lines.length - 1] !== '') throw bad('truncated (no newline after the last record)');
  const entries: CatalogEntry[] = [];
  for (let i = 1; i < lines.length - 1; i++) {
    let row: unknown;
    try {
      row = JSON.parse(lines[i]);
    } catch {
      throw bad(`line ${i + 1} is not JSON`);
    }
    if (!Array.isArray(row) || row.length < 9 || row.length > 10) throw bad(`line ${i + 1} is not a catalog record`);
    const [path, flag, offset, end, size, mode, uid, gid, mtime, target] = row as unknown[];
    const type = typeof flag === 'string' ? TYPE_BY_FLAG.get(flag) : undefined;
    if (
      typeof path !== 'string' ||
      path === '' ||
      type === undefined ||
      !isCount(offset) ||
      !isCount(end) ||
      end < offset ||
      !isCount(size) ||
      !isCount(mode) ||
      !isCount(uid) ||
      !isCount(gid) ||
      typeof mtime !== 'number' ||
      !Number.isFinite(mtime) ||
      (target !== undefined && typeof target !== 'string')
    ) {
      throw bad(`line ${i + 1} has invalid fields`);
    }
    const entry: CatalogEntry = { path, type, offset, end, size, mode, uid, gid, mtime };
    if (target !== undefined) entry.target = target;
    entries.push(entry);
  }
  return entries;
}

/** Accepts "a/b", "./a/b", "/a/b", "a/b/" alike. */
function normalizeLookup(path: string): string {
  return path.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
}

/**
 * The entry for `path` and the stream range covering it; for a directory the range extends over
 * its whole subtree, which the depth-first writer keeps contiguous right after the directory.
 */
export function catalogRange(
  entries: CatalogEntry[],
  path: string,
): { entry: CatalogEntry; start: number; end: number } | undefined {
  const want = normalizeLookup(path);
  const index = entries.findIndex((e) => e.path === want);
  if (index === -1) return undefined;
  const entry = entries[index];
  let end = entry.end;
  if (entry.type === 'dir') {
    const prefix = `${want}/`;
    for (let j = index + 1; j < entries.length && entries[j].path.startsWith(prefix); j++) end = entries[j].end;
  }
  return { entry, start: entry.offset, end };
}
