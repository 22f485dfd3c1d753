import { write } from 'node:fs';

/**
 * Write all of `bytes` at `position` of `fd`, on a libuv thread (so the caller's thread goes on
 * meanwhile); finishes short writes. Rejects with the system error (code ENOSPC etc.).
 */
export function writeAt(fd: number, bytes: Uint8Array, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const next = (done: number) => {
      if (done >= bytes.length) return resolve();
      write(fd, bytes, done, bytes.length - done, position + done, (err, n) => {
        if (err) reject(err);
        else if (n === 0) reject(new Error(`write at byte ${position + done} made no progress`));
        else next(done + n);
      });
    };
    next(0);
  });
}
