import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

/**
 * syncfs(2) of the file system holding a path, through coreutils' `sync -f` (Node has no
 * syncfs). One long-lived shell per process runs it, instead of a spawn from here each time:
 * a spawn forks this process, and with the daemon's few hundred MiB that blocked the event loop
 * for ~20 ms per sync on the machines measured (its page tables are copied). The shell is
 * small, so its fork of `sync` is cheap.
 */
const SCRIPT = 'while IFS= read -r p; do sync -f -- "$p"; echo "$?"; done';

interface Helper {
  child: ChildProcess;
  /** Callers waiting for an answer, in the order of their requests. */
  waiting: Array<() => void>;
  pending: string;
}

let helper: Helper | undefined;

/** Resolves once the sync ran (or could not run: then there was nothing more to do about it). */
export function syncFs(path: string): Promise<void> {
  if (path.includes('\n')) return syncOnce(path);
  const h = helper ?? (helper = startHelper());
  return new Promise<void>((resolve) => {
    h.waiting.push(resolve);
    setRef(h, true);
    h.child.stdin!.write(`${path}\n`);
  });
}

function startHelper(): Helper {
  const child = spawn('sh', ['-c', SCRIPT], { stdio: ['pipe', 'pipe', 'ignore'] });
  const h: Helper = { child, waiting: [], pending: '' };
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => {
    h.pending += s;
    let nl: number;
    while ((nl = h.pending.indexOf('\n')) >= 0) {
      h.pending = h.pending.slice(nl + 1);
      h.waiting.shift()?.();
    }
    if (!h.waiting.length) setRef(h, false);
  });
  // A helper that is gone (killed, or no shell) answers everyone waiting; the next sync starts
  // a new one.
  const gone = () => {
    if (helper === h) helper = undefined;
    for (const w of h.waiting.splice(0)) w();
  };
  child.on('error', gone);
  child.on('exit', gone);
  child.stdin!.on('error', () => undefined);
  setRef(h, false);
  return h;
}

/** An idle helper must not keep the process alive; one with a sync in flight must. */
function setRef(h: Helper, ref: boolean): void {
  for (const s of [h.child, h.child.stdin as Socket | null, h.child.stdout as Socket | null]) {
    if (ref) s?.ref?.();
    else s?.unref?.();
  }
}

/** A path the line protocol cannot carry: a `sync -f` of its own. */
function syncOnce(path: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const child = spawn('sync', ['-f', '--', path], { stdio: 'ignore' });
    child.on('error', () => resolve());
    child.on('exit', () => resolve());
  });
}
