import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { GuestvaultError, errnoCode } from '../errors.js';

/** Size in bytes of a raw image file or a block device, with typed errors for anything else. */
export function imageSourceSize(path: string): number {
  let st;
  try {
    st = statSync(path);
    accessSync(path, constants.R_OK);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') throw new GuestvaultError('E_SOURCE_MISSING', `source ${path} does not exist`);
    if (code === 'EACCES') throw new GuestvaultError('E_SOURCE_UNREADABLE', `source ${path} is not readable (permission denied)`);
    throw new GuestvaultError('E_SOURCE_UNREADABLE', `cannot read source ${path}: ${(err as Error).message}`);
  }
  if (st.isFile()) return st.size;
  if (st.isBlockDevice()) {
    // stat() reports 0 for block devices; sysfs knows the size in 512-byte sectors.
    const major = Number((BigInt(st.rdev) >> 8n) & 0xfffn);
    const minor = Number((BigInt(st.rdev) & 0xffn) | ((BigInt(st.rdev) >> 12n) & ~0xffn));
    try {
      return Number(readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'utf8').trim()) * 512;
    } catch {
      throw new GuestvaultError('E_SOURCE_UNREADABLE', `cannot determine the size of block device ${path}`);
    }
  }
  throw new GuestvaultError('E_SOURCE_TYPE', `source ${path} is not a regular file or block device (use NAME.tar:DIR for directories)`);
}

/** What identifies a regular file's content without reading it: the file, its size, its times. */
export interface SourceIdentity {
  path: string;
  dev: string;
  ino: string;
  size: string;
  mtime_ns: string;
  ctime_ns: string;
}

/** Identity of a regular file (undefined for block devices, whose times say nothing about content). */
export function sourceIdentity(path: string): SourceIdentity | undefined {
  const st = statSync(path, { bigint: true });
  if (!st.isFile()) return undefined;
  return { path: resolve(path), dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtime_ns: String(st.mtimeNs), ctime_ns: String(st.ctimeNs) };
}

export function sameIdentity(a: SourceIdentity, b: SourceIdentity): boolean {
  return a.path === b.path && a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtime_ns === b.mtime_ns && a.ctime_ns === b.ctime_ns;
}
