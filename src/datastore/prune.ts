import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST_BLOB_NAME } from '../formats/index.js';
import { computePrune, type KeepOptions, type PruneDecision } from '../retention/index.js';
import type { Datastore } from './datastore.js';
import { formatSnapshot, isSnapshotDirName, parseBackupTime, type GroupRef, type SnapshotRef } from './names.js';
import { groupMaintenanceLock, isProtected, removeSnapshotFiles, runningBackup } from './snapshot-admin.js';

export interface PruneEntry extends PruneDecision {
  snapshot: string;
  ns: string;
  /** True when the snapshot was (or, with dry-run, would be) removed. */
  removed: boolean;
}

/**
 * Prune one group by Proxmox's keep rules. Unfinished snapshots take part as PBS handles them;
 * the snapshot a running backup writes and the one it builds on are never removed.
 */
export async function pruneGroup(store: Datastore, g: GroupRef, keep: KeepOptions, opts: { dryRun: boolean }): Promise<PruneEntry[]> {
  const lock = opts.dryRun ? undefined : await groupMaintenanceLock(store, g, `prune of ${g.type}/${g.id}`);
  try {
    const dir = store.groupDir(g);
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter(isSnapshotDirName);
    } catch {
      names = [];
    }
    const refs: SnapshotRef[] = names.map((n) => ({ ...g, time: parseBackupTime(n)! }));
    const items = refs.map((r) => ({
      'backup-time': r.time,
      protected: isProtected(store, r),
      finished: existsSync(join(store.snapshotDir(r), MANIFEST_BLOB_NAME)),
    }));
    const decisions = computePrune(items, keep);
    const running = runningBackup(store, g);
    const out: PruneEntry[] = [];
    for (const d of decisions) {
      const ref: SnapshotRef = { ...g, time: d['backup-time'] };
      let entry: PruneEntry = { ...d, snapshot: formatSnapshot(ref), ns: g.ns.join('/'), removed: false };
      if (d.mark === 'remove' && running && (running.base === ref.time || running.snapshot === ref.time)) {
        entry = { ...entry, mark: 'keep', reason: `${running.base === ref.time ? 'base of' : 'written by'} the running backup (pid ${running.pid}); ${d.reason}` };
      }
      if (entry.mark === 'remove') {
        if (!opts.dryRun) removeSnapshotFiles(store, ref);
        entry.removed = true;
      }
      out.push(entry);
    }
    return out;
  } finally {
    lock?.release();
  }
}

