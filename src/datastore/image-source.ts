import { accessSync, constants, readFileSync, statSync } from 'node:fs';
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
