/**
 * Parses a tar stream into entries: ustar headers merged with the pax extended headers ('x',
 * global 'g') and GNU long names ('L', 'K') before them, plus the GNU sparse variants in pax form
 * (1.0 as we write it; 0.0 and 0.1 as older GNU tar writes them). Data is not buffered: the
 * caller reads it in pieces or it is skipped when the next entry is requested.
 */
import { GuestvaultError } from '../errors.js';
import type { ByteSource } from './byte-source.js';
import { padTo512, type EntryType } from './entry-header.js';
import { decodePaxRecords, parsePaxNumber, type PaxRecord } from './pax-header.js';
import type { SparseRegion } from './sparse-map.js';
import { BLOCK, decodeUstar, isZeroBlock } from './ustar-header.js';

export interface TarEntry {
  /** Stream offset of the entry's first header (pax / GNU long-name headers included). */
  offset: number;
  /** The path as written in the archive (not yet checked for safety). */
  path: string;
  typeflag: string;
  /** undefined: a type we do not extract (the caller warns). */
  type: EntryType | undefined;
  /** Bytes of data stored after the header. */
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  atime?: number;
  linkpath: string;
  devmajor: number;
  devminor: number;
  xattrs: Array<[string, Buffer]>;
  /** GNU sparse: `regions` given for 0.x; for 1.0 the map is at the start of the data. */
  sparse?: { realSize: number; regions?: SparseRegion[] };
}

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '7': 'file', // contiguous file: an ordinary file everywhere that matters
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'chardev',
  '4': 'blockdev',
  '5': 'dir',
  '6': 'fifo',
  D: 'dir', // GNU dumpdir: a directory whose data (a name list) we skip
};

/** Extended header data is held in memory; no legitimate one comes near this. */
const MAX_META = 64 * 1024 * 1024;

function cText(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul === -1 ? b.length : nul).toString('utf8');
}

export class TarReader {
  /** Data bytes of the current entry not yet consumed, and its padding. */
  private remaining = 0;
  private padding = 0;
  private globals: PaxRecord[] = [];
  private finished = false;
  private current: TarEntry | undefined;

  constructor(private readonly src: ByteSource) {}

  private truncated(what: string): GuestvaultError {
    return new GuestvaultError(
      'E_TAR_TRUNCATED',
      `tar stream ends at offset ${this.src.position} inside ${what}; the archive is incomplete`,
    );
  }

  /** Reads a whole meta entry's data (pax records, GNU long name). */
  private async readMeta(size: number, offset: number): Promise<Buffer> {
    if (size > MAX_META) {
      throw new GuestvaultError('E_TAR_CORRUPT', `tar header at offset ${offset}: extended header of ${size} bytes is implausibly large`);
    }
    const data = await this.src.read(size);
    const pad = padTo512(size) - size;
    if (data.length < size || (await this.src.skip(pad)) < pad) throw this.truncated(`the extended header at offset ${offset}`);
    return Buffer.from(data);
  }

  /** Next entry, or undefined at the end-of-archive blocks or a clean end of stream. */
  async next(): Promise<TarEntry | undefined> {
    if (this.finished) return undefined;
    if (this.current) {
      const skip = this.remaining + this.padding;
      if ((await this.src.skip(skip)) < skip) throw this.truncated(`the data of ${JSON.stringify(this.current.path)}`);
      this.current = undefined;
      this.remaining = this.padding = 0;
    }
    let first: number | undefined;
    let local: PaxRecord[] = [];
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const offset = this.src.position;
      const block = await this.src.read(BLOCK);
      if (block.length === 0 && first === undefined) {
        // A stream cut at an entry boundary (a byte range of a bigger archive) ends cleanly.
        this.finished = true;
        return undefined;
      }
      if (block.length < BLOCK) throw this.truncated(first === undefined ? 'a header' : `the headers starting at offset ${first}`);
      if (isZeroBlock(block)) {
        if (first !== undefined) throw new GuestvaultError('E_TAR_CORRUPT', `tar stream: end-of-archive block at offset ${offset} right after an extended header`);
        this.finished = true;
        return undefined;
      }
      const h = decodeUstar(block, offset);
      first ??= offset;
      if (h.typeflag === 'x' || h.typeflag === 'g') {
        const records = decodePaxRecords(await this.readMeta(h.size, offset), offset);
        if (h.typeflag === 'x') local = local.concat(records);
        else this.globals = this.globals.concat(records);
        continue;
      }
      if (h.typeflag === 'L' || h.typeflag === 'K') {
        const text = cText(await this.readMeta(h.size, offset));
        if (h.typeflag === 'L') longName = text;
        else longLink = text;
        continue;
      }
      if (h.typeflag === 'S') {
        throw new GuestvaultError('E_TAR_UNSUPPORTED', `tar entry at offset ${offset}: old GNU sparse format is not supported (use pax format)`);
      }
      const entry: TarEntry = {
        offset: first,
        path: longName ?? h.name,
        typeflag: h.typeflag,
        type: TYPES[h.typeflag],
        size: h.size,
        mode: h.mode & 0o7777,
        uid: h.uid,
        gid: h.gid,
        mtime: h.mtime,
        linkpath: longLink ?? h.linkname,
        devmajor: h.devmajor,
        devminor: h.devminor,
        xattrs: [],
      };
      // Pre-POSIX archives mark directories only by the trailing slash.
      if (h.typeflag === '0' && h.name.endsWith('/')) entry.type = 'dir';
      applyPax(entry, [...this.globals, ...local], offset);
      this.current = entry;
      this.remaining = entry.size;
      this.padding = padTo512(entry.size) - entry.size;
      return entry;
    }
  }

  /** The current entry's data in pieces; the caller reads as much as it needs. */
  async piece(max: number): Promise<Buffer> {
    if (this.remaining === 0) return Buffer.alloc(0);
    const p = await this.src.piece(Math.min(max, this.remaining));
    if (p.length === 0) throw this.truncated(`the data of ${JSON.stringify(this.current?.path)}`);
    this.remaining -= p.length;
    return p;
  }

  /** Exactly one 512-byte block of the current entry's data (for the sparse map). */
  async block(): Promise<Buffer> {
    if (this.remaining < BLOCK) throw this.truncated(`the sparse map of ${JSON.stringify(this.current?.path)}`);
    const b = await this.src.read(BLOCK);
    if (b.length < BLOCK) throw this.truncated(`the sparse map of ${JSON.stringify(this.current?.path)}`);
    this.remaining -= BLOCK;
    return b;
  }

  get dataLeft(): number {
    return this.remaining;
  }
}

function parseMap01(text: string, offset: number): SparseRegion[] {
  const nums = text === '' ? [] : text.split(',').map(Number);
  if (nums.length % 2 !== 0 || nums.some((n) => !Number.isSafeInteger(n) || n < 0)) {
    throw new GuestvaultError('E_TAR_CORRUPT', `pax extended header at offset ${offset}: malformed GNU.sparse.map`);
  }
  const regions: SparseRegion[] = [];
  for (let i = 0; i < nums.length; i += 2) regions.push({ offset: nums[i], length: nums[i + 1] });
  return regions;
}

/** Applies pax records (globals first, then the entry's own, so later ones win). */
function applyPax(e: TarEntry, records: readonly PaxRecord[], offset: number): void {
  const num = (v: Buffer, k: string): number => parsePaxNumber(v, k, offset);
  let sparseName: string | undefined;
  let realSize: number | undefined;
  let major: string | undefined;
  let regions: SparseRegion[] | undefined;
  let pendingOffset: number | undefined;
  for (const [key, value] of records) {
    if (key.startsWith('SCHILY.xattr.')) {
      e.xattrs.push([key.slice('SCHILY.xattr.'.length), value]);
      continue;
    }
    switch (key) {
      case 'path': e.path = value.toString('utf8'); break;
      case 'linkpath': e.linkpath = value.toString('utf8'); break;
      case 'size': e.size = num(value, key); break;
      case 'uid': e.uid = num(value, key); break;
      case 'gid': e.gid = num(value, key); break;
      case 'mtime': e.mtime = num(value, key); break;
      case 'atime': e.atime = num(value, key); break;
      case 'GNU.sparse.name': sparseName = value.toString('utf8'); break;
      case 'GNU.sparse.major': major = value.toString('ascii'); break;
      case 'GNU.sparse.realsize':
      case 'GNU.sparse.size': realSize = num(value, key); break;
      case 'GNU.sparse.map': regions = parseMap01(value.toString('ascii'), offset); break;
      // 0.0: offset/numbytes pairs as repeated keys, in order.
      case 'GNU.sparse.offset': pendingOffset = num(value, key); break;
      case 'GNU.sparse.numbytes':
        if (pendingOffset === undefined) throw new GuestvaultError('E_TAR_CORRUPT', `pax extended header at offset ${offset}: GNU.sparse.numbytes without offset`);
        (regions ??= []).push({ offset: pendingOffset, length: num(value, key) });
        pendingOffset = undefined;
        break;
      default: break; // uname, gname, ctime, comment, charset…: nothing to restore
    }
  }
  if (sparseName !== undefined) e.path = sparseName;
  if (realSize !== undefined && e.type === 'file') {
    if (major === '1') e.sparse = { realSize };
    else if (regions) e.sparse = { realSize, regions };
  }
}
