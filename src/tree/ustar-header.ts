/**
 * The 512-byte ustar header block (POSIX.1-1988 layout as kept by pax), encoded and decoded.
 * Values that do not fit a field are written in GNU base-256 form so tools that ignore the
 * pax header still read a plausible number; the pax header (pax-header.ts) carries the exact one.
 */
import { GuestvaultError } from '../errors.js';

export const BLOCK = 512;

/** Field offsets and lengths of the ustar header. */
const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const;

export const NAME_LEN = F.name[1];
export const PREFIX_LEN = F.prefix[1];
export const LINKNAME_LEN = F.linkname[1];

export interface UstarFields {
  name: Buffer;
  prefix?: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number; // whole seconds
  typeflag: string;
  linkname?: Buffer;
  devmajor?: number;
  devminor?: number;
}

/** Largest value an octal field of `len` bytes holds (len-1 digits plus the terminating NUL). */
export function octalMax(len: number): number {
  return 8 ** (len - 1) - 1;
}

function writeNumber(block: Buffer, [off, len]: readonly [number, number], value: number): void {
  if (Number.isInteger(value) && value >= 0 && value <= octalMax(len)) {
    block.write(value.toString(8).padStart(len - 1, '0'), off, len - 1, 'ascii');
    block[off + len - 1] = 0;
    return;
  }
  // GNU base-256: high bit of the first byte set, big-endian two's complement in the rest.
  let v = BigInt(Math.trunc(value));
  if (v < 0n) v += 1n << BigInt(8 * len);
  for (let i = len - 1; i >= 0; i--) {
    block[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  block[off] = value < 0 ? 0xff : 0x80 | (block[off] & 0x7f);
}

function writeBytes(block: Buffer, [off, len]: readonly [number, number], value: Buffer | undefined): void {
  if (value) value.copy(block, off, 0, Math.min(len, value.length));
}

export function headerChecksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) {
    sum += i >= F.chksum[0] && i < F.chksum[0] + F.chksum[1] ? 0x20 : block[i];
  }
  return sum;
}

/** Historic writers summed signed chars; accept that too when verifying. */
function signedChecksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) {
    sum += i >= F.chksum[0] && i < F.chksum[0] + F.chksum[1] ? 0x20 : (block[i] << 24) >> 24;
  }
  return sum;
}

export function encodeUstar(f: UstarFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeBytes(block, F.name, f.name);
  writeNumber(block, F.mode, f.mode & 0o7777);
  writeNumber(block, F.uid, f.uid);
  writeNumber(block, F.gid, f.gid);
  writeNumber(block, F.size, f.size);
  writeNumber(block, F.mtime, Math.floor(f.mtime));
  block.write(f.typeflag, F.typeflag[0], 1, 'ascii');
  writeBytes(block, F.linkname, f.linkname);
  block.write('ustar\0', F.magic[0], 6, 'ascii');
  block.write('00', F.version[0], 2, 'ascii');
  // uname/gname stay empty: we restore numeric ids, and names would differ between hosts.
  writeNumber(block, F.devmajor, f.devmajor ?? 0);
  writeNumber(block, F.devminor, f.devminor ?? 0);
  writeBytes(block, F.prefix, f.prefix);
  const sum = headerChecksum(block);
  block.write(sum.toString(8).padStart(6, '0'), F.chksum[0], 6, 'ascii');
  block[F.chksum[0] + 6] = 0;
  block[F.chksum[0] + 7] = 0x20;
  return block;
}

export interface DecodedUstar {
  name: string; // prefix + '/' + name already joined
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
}

function cString(block: Buffer, [off, len]: readonly [number, number]): string {
  const field = block.subarray(off, off + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

function readNumber(block: Buffer, field: readonly [number, number], name: string, offset: number): number {
  const [off, len] = field;
  const first = block[off];
  if (first & 0x80) {
    let v = BigInt(first & 0x7f);
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(block[off + i]);
    if (first === 0xff) v -= 1n << BigInt(8 * len - 1); // negative (two's complement, sign bit dropped above)
    return Number(v);
  }
  const text = block.toString('ascii', off, off + len).replace(/[\0 ]+$/, '').replace(/^[ \0]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) {
    throw new GuestvaultError('E_TAR_CORRUPT', `tar header at offset ${offset}: field ${name} is not octal (${JSON.stringify(text)})`);
  }
  return parseInt(text, 8);
}

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** Decodes and checksum-verifies one header block; `offset` is only used in error messages. */
export function decodeUstar(block: Buffer, offset: number): DecodedUstar {
  const stored = readNumber(block, F.chksum, 'chksum', offset);
  if (stored !== headerChecksum(block) && stored !== signedChecksum(block)) {
    throw new GuestvaultError(
      'E_TAR_CORRUPT',
      `tar header at offset ${offset}: checksum mismatch (stored ${stored}, computed ${headerChecksum(block)}); the stream is damaged or not a tar archive`,
    );
  }
  const magic = block.toString('ascii', F.magic[0], F.magic[0] + 5);
  const name = cString(block, F.name);
  // Only ustar has a prefix field; the old GNU format keeps other data there.
  const prefix = magic === 'ustar' && block[F.version[0]] === 0x30 ? cString(block, F.prefix) : '';
  const typeflag = block[F.typeflag[0]] === 0 ? '0' : String.fromCharCode(block[F.typeflag[0]]);
  return {
    name: prefix ? `${prefix}/${name}` : name,
    mode: readNumber(block, F.mode, 'mode', offset),
    uid: readNumber(block, F.uid, 'uid', offset),
    gid: readNumber(block, F.gid, 'gid', offset),
    size: readNumber(block, F.size, 'size', offset),
    mtime: readNumber(block, F.mtime, 'mtime', offset),
    typeflag,
    linkname: cString(block, F.linkname),
    devmajor: readNumber(block, F.devmajor, 'devmajor', offset),
    devminor: readNumber(block, F.devminor, 'devminor', offset),
  };
}

/**
 * Splits a path into ustar prefix and name (prefix <= 155 bytes, name <= 100 bytes, split at a '/').
 * Returns undefined when it cannot be done; the caller then needs a pax 'path' record.
 */
export function splitUstarPath(path: Buffer): { prefix: Buffer; name: Buffer } | undefined {
  if (path.length <= NAME_LEN) return { prefix: Buffer.alloc(0), name: path };
  // The split '/' must leave at most 100 bytes after it and at most 155 before it.
  for (let i = path.length - NAME_LEN - 1; i < path.length - 1 && i <= PREFIX_LEN; i++) {
    if (i > 0 && path[i] === 0x2f) return { prefix: path.subarray(0, i), name: path.subarray(i + 1) };
  }
  return undefined;
}
