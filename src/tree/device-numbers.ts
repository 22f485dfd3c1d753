/**
 * Linux dev_t split into major/minor (glibc's gnu_dev_major/minor encoding). BigInt because
 * the 64-bit dev_t does not fit a double's exact range in general.
 */
export function deviceMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}

export function deviceMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}
