/**
 * Builds the header block(s) for one archive entry: a pax extended header ('x') when some value
 * does not fit ustar, followed by the ustar header. Output is deterministic (no PIDs, no atime,
 * sorted xattrs) so an unchanged tree gives an identical stream and de-duplicates completely.
 */
import { encodePaxRecords, paxTime, type PaxRecord } from './pax-header.js';
import { BLOCK, encodeUstar, LINKNAME_LEN, NAME_LEN, octalMax, splitUstarPath } from './ustar-header.js';

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'chardev' | 'blockdev' | 'fifo';

export const TYPEFLAG: Record<EntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  chardev: '3',
  blockdev: '4',
  dir: '5',
  fifo: '6',
};

export interface HeaderInput {
  path: string; // archive path, no trailing slash
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  size: number; // bytes of data stored after the header (sparse: map + data regions)
  linkTarget?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: ReadonlyArray<readonly [string, Buffer]>;
  sparseRealSize?: number; // set for GNU sparse 1.0 entries
}

const NS_PER_S = 1_000_000_000n;

export function padTo512(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

function isAscii(b: Buffer): boolean {
  for (const c of b) if (c >= 0x80) return false;
  return true;
}

/** Cuts a name to fit a field; only used where a pax record carries the full value. */
function fit(b: Buffer, len: number): Buffer {
  return b.length <= len ? b : b.subarray(0, len);
}

function dirAndBase(path: string): [string, string] {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? ['', path] : [path.slice(0, slash + 1), path.slice(slash + 1)];
}

export function buildHeaders(h: HeaderInput): Buffer {
  const records: PaxRecord[] = [];
  const str = (s: string): Buffer => Buffer.from(s, 'utf8');

  // Directories carry the conventional trailing slash in the ustar name.
  let ustarPath = str(h.type === 'dir' ? `${h.path}/` : h.path);
  if (h.sparseRealSize !== undefined) {
    // GNU sparse 1.0: the real name lives in GNU.sparse.name; the ustar name is a placeholder
    // (fixed ".0" instead of GNU's PID, to keep the stream deterministic).
    const [dir, base] = dirAndBase(h.path);
    ustarPath = str(`${dir}GNUSparseFile.0/${base}`);
    records.push(['GNU.sparse.major', str('1')], ['GNU.sparse.minor', str('0')]);
    records.push(['GNU.sparse.name', str(h.path)], ['GNU.sparse.realsize', str(String(h.sparseRealSize))]);
  }
  let split = isAscii(ustarPath) ? splitUstarPath(ustarPath) : undefined;
  if (!split) {
    if (h.sparseRealSize === undefined) records.push(['path', ustarPath]);
    split = { prefix: Buffer.alloc(0), name: fit(ustarPath, NAME_LEN) };
  }

  let linkname: Buffer | undefined;
  if (h.linkTarget !== undefined) {
    linkname = str(h.linkTarget);
    if (linkname.length > LINKNAME_LEN || !isAscii(linkname)) {
      records.push(['linkpath', linkname]);
      linkname = fit(linkname, LINKNAME_LEN);
    }
  }
  if (h.size > octalMax(12)) records.push(['size', str(String(h.size))]);
  if (h.uid > octalMax(8)) records.push(['uid', str(String(h.uid))]);
  if (h.gid > octalMax(8)) records.push(['gid', str(String(h.gid))]);

  // Floor division so negative times round down, as the whole-second ustar field expects.
  const ns = h.mtimeNs;
  const sec = ns >= 0n ? ns / NS_PER_S : -((-ns + NS_PER_S - 1n) / NS_PER_S);
  const mtimeSec = Number(sec);
  if (ns % NS_PER_S !== 0n || mtimeSec < 0 || mtimeSec > octalMax(12)) records.push(['mtime', str(paxTime(ns))]);

  if (h.xattrs) {
    const sorted = [...h.xattrs].sort((a, b) => Buffer.compare(str(a[0]), str(b[0])));
    for (const [name, value] of sorted) records.push([`SCHILY.xattr.${name}`, value]);
  }

  const ustar = encodeUstar({
    name: split.name,
    prefix: split.prefix,
    mode: h.mode,
    uid: h.uid,
    gid: h.gid,
    size: h.size,
    mtime: mtimeSec,
    typeflag: TYPEFLAG[h.type],
    linkname,
    devmajor: h.devmajor,
    devminor: h.devminor,
  });
  if (records.length === 0) return ustar;

  const paxData = encodePaxRecords(records);
  const [, base] = dirAndBase(h.path);
  const paxHeader = encodeUstar({
    name: fit(str(`PaxHeaders/${base}`), NAME_LEN),
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: paxData.length,
    mtime: Math.max(0, mtimeSec),
    typeflag: 'x',
  });
  const out = Buffer.alloc(BLOCK + padTo512(paxData.length) + BLOCK);
  paxHeader.copy(out, 0);
  paxData.copy(out, BLOCK);
  ustar.copy(out, out.length - BLOCK);
  return out;
}
