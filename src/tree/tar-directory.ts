/**
 * Streams a directory's contents as a pax tar: depth-first, names in byte order, each directory
 * before its contents, so any subtree is one contiguous byte range (see catalogRange). Only one
 * file is open at a time and data moves in pieces of at most 1 MiB, so memory stays flat; what
 * grows is the stack of directory listings on the current path and the hard-link table.
 */
import { constants as C, type BigIntStats } from 'node:fs';
import { lstat, open, readdir, readlink, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, GuestvaultError } from '../errors.js';
import type { CatalogEntry } from './catalog.js';
import { deviceMajor, deviceMinor } from './device-numbers.js';
import { buildHeaders, padTo512, type EntryType, type HeaderInput } from './entry-header.js';
import { readFileData, readSparseRegions, READ_PIECE, type SizeChange } from './file-data.js';
import { encodeSparseMap, scanDataRegions, sparseDataSize } from './sparse-map.js';
import { BLOCK } from './ustar-header.js';
import { readXattrs } from './xattrs.js';

export interface TarDirectoryOptions {
  onEntry?: (e: CatalogEntry) => void;
  onWarning?: (msg: string) => void;
}

/** One entry ready to be written: its header(s) and, for files, where the data comes from. */
interface Prepared {
  header: HeaderInput;
  catalog: Omit<CatalogEntry, 'offset' | 'end'>;
  data?: AsyncIterable<Buffer>;
  fh?: FileHandle;
}

const errText = (err: unknown): string => errnoCode(err) ?? (err instanceof Error ? err.message : String(err));

/**
 * Directory names sorted by their bytes. Names that are not valid UTF-8 cannot be represented in
 * our string paths (catalog, fs-xattr), so they are reported and left out rather than mangled.
 */
async function listDir(abs: string, rel: string, warn: (m: string) => void): Promise<string[]> {
  const raw = await readdir(abs, { encoding: 'buffer' });
  const names: Buffer[] = [];
  for (const name of raw) {
    if (Buffer.from(name.toString('utf8'), 'utf8').equals(name)) names.push(name);
    else warn(`${join(rel, name.toString('utf8'))}: name is not valid UTF-8, skipped`);
  }
  names.sort(Buffer.compare);
  return names.map((n) => n.toString('utf8'));
}

/** Opens without following a symlink, without blocking on a fifo swapped in, without touching atime. */
async function openForRead(abs: string): Promise<FileHandle> {
  const flags = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK;
  try {
    return await open(abs, flags | C.O_NOATIME);
  } catch (err) {
    // O_NOATIME needs file ownership or CAP_FOWNER.
    if (errnoCode(err) !== 'EPERM') throw err;
    return await open(abs, flags);
  }
}

function baseHeader(rel: string, type: EntryType, st: BigIntStats): HeaderInput {
  return {
    path: rel,
    type,
    mode: Number(st.mode) & 0o7777,
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtimeNs: st.mtimeNs,
    size: 0,
  };
}

function catalogOf(h: HeaderInput, size: number): Omit<CatalogEntry, 'offset' | 'end'> {
  const e: Omit<CatalogEntry, 'offset' | 'end'> = {
    path: h.path,
    type: h.type,
    size,
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    mtime: Number(h.mtimeNs) / 1e9,
  };
  if (h.linkTarget !== undefined) e.target = h.linkTarget;
  return e;
}

class Walker {
  /** dev:ino of multiply linked files already archived → their archive path. */
  private readonly links = new Map<string, string>();

  constructor(
    private readonly root: string,
    private readonly warn: (m: string) => void,
  ) {}

  private withXattrs(h: HeaderInput, abs: string): HeaderInput {
    const { xattrs, warning } = readXattrs(abs);
    if (warning) this.warn(warning);
    if (xattrs.length > 0) h.xattrs = xattrs;
    return h;
  }

  /** Prepares the entry at `rel`, or returns undefined (with a warning) when it must be skipped. */
  async prepare(rel: string, st: BigIntStats): Promise<Prepared | undefined> {
    const abs = join(this.root, rel);
    if (st.isDirectory()) {
      const h = this.withXattrs(baseHeader(rel, 'dir', st), abs);
      return { header: h, catalog: catalogOf(h, 0) };
    }
    if (st.isSymbolicLink()) {
      const target = await readlink(abs, { encoding: 'buffer' });
      if (!Buffer.from(target.toString('utf8'), 'utf8').equals(target)) {
        this.warn(`${rel}: symlink target is not valid UTF-8, skipped`);
        return undefined;
      }
      const h = baseHeader(rel, 'symlink', st);
      h.linkTarget = target.toString('utf8');
      return { header: h, catalog: catalogOf(h, 0) };
    }
    if (st.isFile()) return this.prepareFile(rel, abs, st);
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      const h = this.withXattrs(baseHeader(rel, st.isCharacterDevice() ? 'chardev' : 'blockdev', st), abs);
      h.devmajor = deviceMajor(st.rdev);
      h.devminor = deviceMinor(st.rdev);
      return { header: h, catalog: catalogOf(h, 0) };
    }
    if (st.isFIFO()) {
      const h = this.withXattrs(baseHeader(rel, 'fifo', st), abs);
      return { header: h, catalog: catalogOf(h, 0) };
    }
    this.warn(`${rel}: ${st.isSocket() ? 'socket' : 'unsupported file type'}, skipped`);
    return undefined;
  }

  private async prepareFile(rel: string, abs: string, lst: BigIntStats): Promise<Prepared | undefined> {
    const key = `${lst.dev}:${lst.ino}`;
    if (lst.nlink > 1n) {
      const first = this.links.get(key);
      if (first !== undefined) {
        const h = baseHeader(rel, 'hardlink', lst);
        h.linkTarget = first;
        return { header: h, catalog: catalogOf(h, 0) };
      }
    }
    const fh = await openForRead(abs);
    try {
      const st = await fh.stat({ bigint: true });
      if (!st.isFile()) {
        this.warn(`${rel}: replaced by something else while being archived, skipped`);
        await fh.close();
        return undefined;
      }
      if (st.nlink > 1n) this.links.set(`${st.dev}:${st.ino}`, rel);
      const size = Number(st.size);
      const h = this.withXattrs(baseHeader(rel, 'file', st), abs);
      const onChange = (c: SizeChange): void =>
        this.warn(
          c.kind === 'grew'
            ? `${rel}: file grew while being read; archived as its first ${size} bytes`
            : c.kind === 'shrank'
              ? `${rel}: file shrank while being read; archived as ${size} bytes, padded with zeros`
              : `${rel}: read error ${c.code}; the rest of the archived file is zeros`,
        );
      // Fewer allocated blocks than the size needs: probably has holes, worth a scan.
      if (size > 0 && Number(st.blocks) * 512 < size) {
        const { regions, short } = await scanDataRegions(fh, size);
        const dataSize = sparseDataSize(regions);
        if (!short && dataSize < size) {
          const map = encodeSparseMap(regions, size);
          h.size = map.length + dataSize;
          h.sparseRealSize = size;
          const data = (async function* () {
            yield map;
            yield* readSparseRegions(fh, regions, onChange);
          })();
          return { header: h, catalog: catalogOf(h, size), data, fh };
        }
      }
      h.size = size;
      return { header: h, catalog: catalogOf(h, size), data: readFileData(fh, size, onChange), fh };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }
}

/** Collects small pieces into larger yields (never above 1 MiB) so tiny files do not cost one yield each. */
class Coalescer {
  private parts: Buffer[] = [];
  private length = 0;

  /** Adds a piece; returns what must be yielded first, if anything. */
  push(piece: Buffer): Buffer | undefined {
    let out: Buffer | undefined;
    if (this.length + piece.length > READ_PIECE) out = this.take();
    this.parts.push(piece);
    this.length += piece.length;
    return out;
  }

  take(): Buffer | undefined {
    if (this.length === 0) return undefined;
    const out = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.length);
    this.parts = [];
    this.length = 0;
    return out;
  }
}

export async function* tarDirectory(root: string, opts: TarDirectoryOptions = {}): AsyncGenerator<Buffer> {
  const warn = (m: string): void => opts.onWarning?.(m);
  let rootNames: string[];
  try {
    const st = await stat(root);
    if (!st.isDirectory()) throw new GuestvaultError('E_TREE_SOURCE', `${root}: not a directory, cannot back it up as a file tree`);
    rootNames = await listDir(root, '', warn);
  } catch (err) {
    if (err instanceof GuestvaultError) throw err;
    throw new GuestvaultError('E_TREE_SOURCE', `${root}: cannot read the source directory (${errText(err)})`, { cause: err });
  }

  const walker = new Walker(root, warn);
  const out = new Coalescer();
  let pos = 0;
  // The root itself goes first as "./" (as GNU tar writes it), so a restore gives the target
  // directory the source's mode, owner, times and xattrs. It is not a catalog entry.
  const rootEntry = await walker.prepare('.', await lstat(root, { bigint: true }));
  if (rootEntry) {
    const rootHeader = buildHeaders(rootEntry.header);
    pos += rootHeader.length;
    out.push(rootHeader);
  }
  // Listings of the directories on the current path, each with the index of the next name.
  const stack: Array<{ rel: string; names: string[]; next: number }> = [{ rel: '', names: rootNames, next: 0 }];

  while (stack.length > 0) {
    const dir = stack[stack.length - 1];
    if (dir.next >= dir.names.length) {
      stack.pop();
      continue;
    }
    const name = dir.names[dir.next++];
    const rel = dir.rel === '' ? name : `${dir.rel}/${name}`;
    let prepared: Prepared | undefined;
    let children: string[] | undefined;
    try {
      const st = await lstat(join(root, rel), { bigint: true });
      // A directory is listed before its header goes out: an unreadable one is skipped whole.
      if (st.isDirectory()) children = await listDir(join(root, rel), rel, warn);
      prepared = await walker.prepare(rel, st);
    } catch (err) {
      warn(`${rel}: ${errnoCode(err) === 'ENOENT' ? 'vanished while being archived' : `cannot read (${errText(err)})`}, skipped`);
      continue;
    }
    if (!prepared) continue;

    const { header, catalog, data, fh } = prepared;
    try {
      const headerBytes = buildHeaders(header);
      const dataBytes = padTo512(header.size);
      opts.onEntry?.({ ...catalog, offset: pos, end: pos + headerBytes.length + dataBytes });
      pos += headerBytes.length + dataBytes;
      const flushed = out.push(headerBytes);
      if (flushed) yield flushed;
      if (data) {
        for await (const piece of data) {
          const f = out.push(piece);
          if (f) yield f;
        }
        if (dataBytes > header.size) {
          const f = out.push(Buffer.alloc(dataBytes - header.size));
          if (f) yield f;
        }
      }
    } finally {
      await fh?.close();
    }
    if (children) stack.push({ rel, names: children, next: 0 });
  }

  const last = out.push(Buffer.alloc(2 * BLOCK));
  if (last) yield last;
  const rest = out.take();
  if (rest) yield rest;
}
