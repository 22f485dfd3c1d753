import { closeSync, lstatSync, openSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GuestvaultError, errnoCode } from '../errors.js';
import { decodeDynamicIndex, decodeFixedIndex, dynamicChunkStart, fixedChunkRange } from '../formats/index.js';
import { CHUNK_DIR, chunkPath } from './chunk-store.js';
import type { Datastore } from './datastore.js';
import { acquireLock, liveLocksBelow } from './lock-file.js';
import { formatSnapshot, isSnapshotDirName, parseBackupTime } from './names.js';
import { writeError } from './snapshot-admin.js';

/** PBS's default grace period: 24 h 5 min, because relatime updates atime at most once a day. */
export const DEFAULT_GC_ATIME_CUTOFF_MINUTES = 1445;

export interface GcStatus {
  upid: string;
  'index-file-count': number;
  'index-data-bytes': number;
  'disk-bytes': number;
  'disk-chunks': number;
  'removed-bytes': number;
  'removed-chunks': number;
  'removed-bad': number;
  'pending-bytes': number;
  'pending-chunks': number;
  'removed-temp-files': number;
  'still-bad': number;
  'missing-chunks': number;
  'dedup-factor': number;
  'average-chunk-size': number;
  'cutoff-time': number;
  'start-time': number;
  'end-time': number;
}

export interface GcOptions {
  upid: string;
  /** Minutes a chunk may go unreferenced before it is removed. */
  cutoffMinutes: number;
  log: (line: string) => void;
  progress?: (phase: 1 | 2, done: number, total: number) => void;
  now?: () => number;
}

export interface AtimeOps {
  setTimes(path: string, atime: number, mtime: Date): void;
  stat(path: string): { atimeMs: number; mtime: Date };
}

const realAtimeOps: AtimeOps = {
  setTimes: (p, a, m) => utimesSync(p, a, m),
  stat: (p) => statSync(p),
};

/**
 * Whether a filesystem keeps the access times we set: set an old atime, then a new one, and read
 * both back (to the second). FAT, for one, keeps only the day.
 */
export function atimeIsKept(probe: string, ops: AtimeOps = realAtimeOps, nowSec = Math.floor(Date.now() / 1000)): boolean {
  const mtime = ops.stat(probe).mtime;
  const old = nowSec - 7 * 86400 - 3600 - 17;
  ops.setTimes(probe, old, mtime);
  const a1 = ops.stat(probe).atimeMs / 1000;
  ops.setTimes(probe, nowSec, mtime);
  const a2 = ops.stat(probe).atimeMs / 1000;
  return Math.abs(a1 - old) <= 2 && Math.abs(a2 - nowSec) <= 2;
}

/** The atime safety check: GC decides by atime, so the datastore's filesystem must keep it. */
export function checkAtimeWorks(store: Datastore): void {
  const probe = join(store.path, CHUNK_DIR, '.atime-probe');
  try {
    closeSync(openSync(probe, 'w'));
    if (!atimeIsKept(probe)) {
      throw new GuestvaultError('E_GC_ATIME', `datastore '${store.name}': the filesystem at ${store.path} does not keep access times (atime); garbage collection would remove chunks in use, so it refuses to run`);
    }
  } catch (err) {
    if (err instanceof GuestvaultError) throw err;
    writeError(store, 'run garbage collection', err);
  } finally {
    try {
      unlinkSync(probe);
    } catch {
      // Already gone or never created.
    }
  }
}

/** A small LRU of recently touched digests: a chunk shared by many snapshots is touched once. */
class RecentSet {
  private readonly map = new Map<string, true>();
  constructor(private readonly capacity: number) {}
  /** True if `d` was already there. */
  seen(d: string): boolean {
    if (this.map.has(d)) {
      this.map.delete(d);
      this.map.set(d, true);
      return true;
    }
    this.map.set(d, true);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
    return false;
  }
}

function* indexFilesOf(store: Datastore): Generator<{ path: string; snapshot: string }> {
  for (const ns of store.listNamespaces()) {
    for (const g of store.listGroups(ns)) {
      let names: string[];
      try {
        names = readdirSync(store.groupDir(g));
      } catch {
        continue;
      }
      // Finished and unfinished snapshots alike: a running backup's finished indexes count.
      for (const n of names.filter(isSnapshotDirName)) {
        const ref = { ...g, time: parseBackupTime(n)! };
        const dir = store.snapshotDir(ref);
        let files: string[];
        try {
          files = readdirSync(dir);
        } catch {
          continue; // Pruned meanwhile.
        }
        for (const f of files) if (f.endsWith('.fidx') || f.endsWith('.didx')) yield { path: join(dir, f), snapshot: formatSnapshot(ref) };
      }
    }
  }
}

/**
 * Garbage collection in PBS's two phases. Mark: set the atime of every chunk any index
 * references. Sweep: remove chunk files whose atime is older than the cutoff — the grace period
 * before the start, or the start of the oldest running backup, whichever is earlier — because a
 * running backup touches every chunk it writes or reuses. Memory stays bounded: indexes are
 * read one at a time and only a fixed-size LRU of digests is kept.
 */
export async function garbageCollect(store: Datastore, opts: GcOptions): Promise<GcStatus> {
  const now = opts.now ?? (() => Date.now() / 1000);
  const lock = acquireLock(store.abs(join('.locks', 'gc.lck')), 'garbage collection', `datastore '${store.name}' for garbage collection`, opts.log);
  try {
    checkAtimeWorks(store);
    const start = now();
    const writers = liveLocksBelow(store.abs('.locks')).filter((l) => l.purpose.startsWith('backup of'));
    const oldestWriter = Math.min(start, ...writers.map((w) => w.since));
    let minAtime = start - opts.cutoffMinutes * 60;
    if (oldestWriter < minAtime) minAtime = oldestWriter - 300;
    opts.log(`starting garbage collection on datastore '${store.name}'; cutoff ${new Date(minAtime * 1000).toISOString()}${writers.length ? ` (${writers.length} backup(s) running, oldest since ${new Date(oldestWriter * 1000).toISOString()})` : ''}`);

    const status: GcStatus = {
      upid: opts.upid, 'index-file-count': 0, 'index-data-bytes': 0, 'disk-bytes': 0, 'disk-chunks': 0, 'removed-bytes': 0,
      'removed-chunks': 0, 'removed-bad': 0, 'pending-bytes': 0, 'pending-chunks': 0, 'removed-temp-files': 0, 'still-bad': 0,
      'missing-chunks': 0, 'dedup-factor': 1, 'average-chunk-size': 0, 'cutoff-time': minAtime, 'start-time': start, 'end-time': 0,
    };

    // Phase 1: mark.
    opts.log('phase 1: marking used chunks');
    const recent = new RecentSet(1 << 16);
    const touchTime = new Date(start * 1000);
    const touch = (digest: string, where: string): void => {
      if (recent.seen(digest)) return;
      const path = chunkPath(store.path, digest);
      try {
        const st = lstatSync(path);
        utimesSync(path, touchTime, st.mtime);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') writeError(store, 'mark chunks', err);
        status['missing-chunks']++;
        opts.log(`warning: chunk ${digest} used by ${where} is missing`);
        // Keep its bad copies (renamed by verify) alive for inspection, as PBS does.
        for (let n = 0; n < 10; n++) {
          try {
            const bad = `${path}.${n}.bad`;
            utimesSync(bad, touchTime, lstatSync(bad).mtime);
          } catch {
            // No such copy.
          }
        }
      }
    };
    let files = 0;
    for (const { path, snapshot } of indexFilesOf(store)) {
      let raw: Buffer;
      try {
        raw = readFileSync(path);
      } catch {
        continue; // Removed by a prune since the listing.
      }
      const where = `${snapshot}/${path.slice(path.lastIndexOf('/') + 1)}`;
      try {
        if (path.endsWith('.fidx')) {
          const idx = decodeFixedIndex(raw, where);
          idx.digests.forEach((d, i) => {
            const [s, e] = fixedChunkRange(idx, i);
            status['index-data-bytes'] += e - s;
            touch(d.toString('hex'), where);
          });
        } else {
          const idx = decodeDynamicIndex(raw, where);
          idx.entries.forEach((en, i) => {
            status['index-data-bytes'] += en.end - dynamicChunkStart(idx.entries, i);
            touch(en.digest.toString('hex'), where);
          });
        }
      } catch (err) {
        if (err instanceof GuestvaultError && err.code.startsWith('E_INDEX')) {
          opts.log(`warning: ${err.message}; its chunks cannot be marked`);
          continue;
        }
        throw err;
      }
      status['index-file-count']++;
      files++;
      opts.progress?.(1, files, 0);
      if (files % 64 === 0) await new Promise((r) => setImmediate(r));
    }

    // Phase 2: sweep.
    opts.log('phase 2: sweeping unused chunks');
    const chunkRoot = join(store.path, CHUNK_DIR);
    for (let i = 0; i < 0x10000; i++) {
      const sub = join(chunkRoot, i.toString(16).padStart(4, '0'));
      let names: string[];
      try {
        names = readdirSync(sub);
      } catch {
        continue;
      }
      for (const name of names) {
        const path = join(sub, name);
        let st;
        try {
          st = lstatSync(path);
        } catch {
          continue;
        }
        if (!st.isFile()) continue;
        const atime = st.atimeMs / 1000;
        const aside = /^([0-9a-f]{64})\.gc-(\d+)$/.exec(name);
        if (aside) {
          // Left by a killed garbage collection (we hold the GC lock, so it is not running):
          // put the chunk back; the next run decides about it again.
          try {
            if (lstatSync(join(sub, aside[1]!), { throwIfNoEntry: false })) unlinkSync(path);
            else renameSync(path, join(sub, aside[1]!));
          } catch (err) {
            writeError(store, 'recover chunks of an interrupted garbage collection', err);
          }
          opts.log(`recovered chunk ${aside[1]} set aside by an interrupted garbage collection`);
          continue;
        }
        const isTemp = name.includes('.tmp_');
        const isBad = /^[0-9a-f]{64}\.\d\.bad$/.test(name);
        if (!isTemp && !isBad && !/^[0-9a-f]{64}$/.test(name)) continue;
        // A temp file is a chunk being written (or left by a killed writer): judged by mtime.
        const t = isTemp ? st.mtimeMs / 1000 : atime;
        if (t < minAtime) {
          if (!isTemp && !isBad && !removeIfStillUnused(path, minAtime, store)) {
            status['disk-chunks']++;
            status['disk-bytes'] += st.size;
            continue;
          }
          if (isTemp || isBad) {
            try {
              unlinkSync(path);
            } catch (err) {
              if (errnoCode(err) === 'ENOENT') continue;
              writeError(store, 'remove unused chunks', err);
            }
          }
          if (isTemp) status['removed-temp-files']++;
          else if (isBad) status['removed-bad']++;
          else {
            status['removed-chunks']++;
            status['removed-bytes'] += st.size;
          }
        } else if (isTemp) {
          continue;
        } else if (isBad) {
          status['still-bad']++;
        } else {
          if (atime < start) {
            status['pending-chunks']++;
            status['pending-bytes'] += st.size;
          }
          status['disk-chunks']++;
          status['disk-bytes'] += st.size;
        }
      }
      opts.progress?.(2, i + 1, 0x10000);
      if (i % 512 === 0) await new Promise((r) => setImmediate(r));
    }
    status['end-time'] = now();
    status['dedup-factor'] = status['disk-bytes'] > 0 ? status['index-data-bytes'] / status['disk-bytes'] : 1;
    status['average-chunk-size'] = status['disk-chunks'] > 0 ? Math.round(status['disk-bytes'] / status['disk-chunks']) : 0;
    const tmp = join(store.path, '.gc-status.tmp');
    writeFileSync(tmp, JSON.stringify(status, null, 2));
    renameSync(tmp, join(store.path, '.gc-status'));
    return status;
  } finally {
    lock.release();
  }
}

/**
 * Remove an unused chunk without racing a backup that reuses it at this very moment. The rename
 * is the decision point: a backup that touched the chunk before it shows in the atime read
 * after the rename (then the chunk is put back); a backup that looks after the rename finds no
 * chunk and writes it again.
 */
function removeIfStillUnused(path: string, minAtime: number, store: Datastore): boolean {
  const aside = `${path}.gc-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    writeError(store, 'remove unused chunks', err);
  }
  if (lstatSync(aside).atimeMs / 1000 >= minAtime) {
    renameSync(aside, path);
    return false;
  }
  unlinkSync(aside);
  return true;
}

export function readGcStatus(store: Datastore): GcStatus | undefined {
  try {
    return JSON.parse(readFileSync(join(store.path, '.gc-status'), 'utf8')) as GcStatus;
  } catch {
    return undefined;
  }
}
