import { closeSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hostname } from 'node:os';
import { GuestvaultError, errnoCode } from '../errors.js';

export interface LockInfo {
  pid: number;
  /** Process start time from /proc/<pid>/stat, so a reused pid is not mistaken for the holder. */
  start: string;
  host: string;
  since: number;
  purpose: string;
  /** What the holder wants others to know, e.g. the base snapshot of a running backup. */
  extra?: Record<string, string | number>;
}

function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); the command name in field 2 may contain spaces, so split after ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function holderAlive(info: LockInfo): boolean {
  if (info.host !== hostname()) return true; // Cannot tell; assume it is.
  return processStart(info.pid) === info.start;
}

function readLock(path: string): LockInfo | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

export interface HeldLock {
  path: string;
  /** Replace the lock's `extra` information (atomically: readers see the old or the new file). */
  update(extra: Record<string, string | number>): void;
  release(): void;
}

/**
 * An exclusive lock as a file created with O_EXCL. A lock whose holder died (killed, crashed)
 * is detected through its pid and start time and taken over; `onStale` is told so.
 */
export function acquireLock(path: string, purpose: string, describe: string, onStale?: (msg: string) => void): HeldLock {
  try {
    return takeLock(path, purpose, describe, onStale);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EROFS') throw new GuestvaultError('E_READ_ONLY', `cannot lock ${describe}: ${dirname(path)} is on a read-only file system`);
    if (code === 'EACCES' || code === 'EPERM') throw new GuestvaultError('E_PERMISSION', `cannot lock ${describe}: no permission to write ${dirname(path)}`);
    if (code === 'ENOSPC') throw new GuestvaultError('E_DISK_FULL', `cannot lock ${describe}: no space left on the device`);
    throw err;
  }
}

function takeLock(path: string, purpose: string, describe: string, onStale?: (msg: string) => void): HeldLock {
  mkdirSync(dirname(path), { recursive: true });
  const me: LockInfo = { pid: process.pid, start: processStart(process.pid) ?? '', host: hostname(), since: Date.now() / 1000, purpose };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // Written to a temp file and hard-linked into place, so a lock file is never seen half-written.
      const tmp = `${path}.${process.pid}.tmp`;
      const fd = openSync(tmp, 'w', 0o644);
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      try {
        linkSync(tmp, path);
      } finally {
        unlinkSync(tmp);
      }
      let released = false;
      return {
        path,
        update(extra) {
          const tmpInfo = `${path}.${process.pid}.upd`;
          writeFileSync(tmpInfo, JSON.stringify({ ...me, extra }));
          renameSync(tmpInfo, path);
        },
        release() {
          if (released) return;
          released = true;
          try {
            unlinkSync(path);
          } catch {
            // Already removed.
          }
        },
      };
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      const holder = readLock(path);
      if (holder && holderAlive(holder)) {
        throw new GuestvaultError('E_LOCKED',
          `${describe} is locked: ${holder.purpose} is running (pid ${holder.pid} since ${new Date(holder.since * 1000).toISOString()})`);
      }
      onStale?.(`removed stale lock of ${describe} (${holder ? `${holder.purpose}, pid ${holder.pid}, no longer running` : 'unreadable'})`);
      try {
        unlinkSync(path);
      } catch {
        // Someone else removed it; retry.
      }
    }
  }
  throw new GuestvaultError('E_LOCKED', `${describe} is locked and the lock could not be taken`);
}

/** True when a live process holds the lock at `path`. */
export function isLocked(path: string): boolean {
  return liveHolder(path) !== undefined;
}

/** The live holder of the lock at `path`, if any. */
export function liveHolder(path: string): LockInfo | undefined {
  const holder = readLock(path);
  return holder !== undefined && holderAlive(holder) ? holder : undefined;
}

/** Live holders of all `*.lck` files below `dir` (e.g. every running backup of a datastore). */
export function liveLocksBelow(dir: string): LockInfo[] {
  const out: LockInfo[] = [];
  let names: string[];
  try {
    names = readdirSync(dir, { recursive: true }) as string[];
  } catch {
    return out;
  }
  for (const n of names) {
    if (!n.endsWith('.lck')) continue;
    const h = liveHolder(join(dir, n));
    if (h) out.push(h);
  }
  return out;
}

/** Like acquireLock, but retries for up to `waitMs` while a live holder has it (short critical sections). */
export async function acquireLockWait(path: string, purpose: string, describe: string, waitMs: number, onStale?: (msg: string) => void): Promise<HeldLock> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return acquireLock(path, purpose, describe, onStale);
    } catch (err) {
      if (!(err instanceof GuestvaultError) || err.code !== 'E_LOCKED' || Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
