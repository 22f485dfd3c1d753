/** Verify, garbage collection and prune of a datastore, as tasks or answers of the API. */
import { ChunkPool, DEFAULT_GC_ATIME_CUTOFF_MINUTES, garbageCollect, pruneGroup, runVerify, type Datastore, type GroupRef, type SnapshotRef } from '../datastore/index.js';
import { GuestvaultError } from '../errors.js';
import type { KeepOptions } from '../retention/index.js';
import { formatSize, logSink } from '../tasks/index.js';
import type { ApiContext } from './api-context.js';

export function startVerify(ctx: ApiContext, store: Datastore, refs: readonly SnapshotRef[], user: string): string {
  return ctx.runner.start('verify', store.name, user, async (task) => {
    const pool = new ChunkPool();
    try {
      const report = await runVerify(store, refs, { pool, upid: task.upid, progress: logSink((l) => task.log(l)), log: (l) => task.log(l) });
      const s = report.summary.snapshots;
      task.log(`verified ${refs.length} snapshot(s): ${s.failed} failed`);
      if (s.failed > 0) throw new GuestvaultError('E_VERIFY_FAILED', `verification failed for ${s.failed} snapshot(s)`);
    } finally {
      await pool.close();
    }
  });
}

export function startGc(ctx: ApiContext, store: Datastore, user: string): string {
  return ctx.runner.start('garbage_collection', store.name, user, async (task) => {
    const s = await garbageCollect(store, {
      upid: task.upid,
      cutoffMinutes: Number(store.config['gc-atime-cutoff'] ?? DEFAULT_GC_ATIME_CUTOFF_MINUTES),
      log: (l) => task.log(l),
    });
    task.log(`Removed garbage: ${formatSize(s['removed-bytes'])} in ${s['removed-chunks']} chunks`);
    task.log(`Pending removals: ${formatSize(s['pending-bytes'])} in ${s['pending-chunks']} chunks`);
    task.log(`On-disk usage: ${formatSize(s['disk-bytes'])} in ${s['disk-chunks']} chunks, deduplication factor ${s['dedup-factor'].toFixed(2)}`);
  });
}

export interface PruneRow {
  snapshot: string;
  'backup-type': string;
  'backup-id': string;
  'backup-time': number;
  mark: string;
  reason: string;
  removed: boolean;
}

/** Prunes (or, dry, says what pruning would do to) the groups; answers each snapshot's fate. */
export async function pruneGroups(store: Datastore, groups: readonly GroupRef[], keep: KeepOptions, dryRun: boolean): Promise<PruneRow[]> {
  const rows: PruneRow[] = [];
  for (const g of groups) {
    for (const e of await pruneGroup(store, g, keep, { dryRun })) {
      rows.push({ snapshot: e.snapshot, 'backup-type': g.type, 'backup-id': g.id, 'backup-time': e['backup-time'], mark: e.mark, reason: e.reason, removed: e.removed });
    }
  }
  return rows;
}

