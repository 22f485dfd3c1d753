import {
  BackupSession, Datastore, addSpecs, formatSnapshot, parseBackupSpec, pruneGroup, setNotes, setProtected, summaryLine,
  type GroupRef,
} from '../datastore/index.js';
import { GuestvaultError } from '../errors.js';
import { guestvaultHome } from '../home.js';
import { parseKeepOptions } from '../retention/index.js';
import { TaskLog, logSink } from '../tasks/index.js';
import { acquireLock } from '../datastore/index.js';
import { join } from 'node:path';
import type { BackupJob } from './job-config.js';
import { readJobState, syncJobState, writeJobState } from './job-state.js';
import { localNodeName } from './node-name.js';

/** One guest (or the host) that a job run backs up into one backup group. */
export interface BackupTarget {
  label: string;
  group: Omit<GroupRef, 'ns'>;
  /** Values for the notes template. */
  name: string;
  backup(session: BackupSession, warn: (msg: string) => void): Promise<void>;
}

/**
 * A kind of guest. Each kind turns a job's selection into targets on this node; VMs and
 * containers plug in here as their engines arrive.
 */
export interface GuestEngine {
  kind: string;
  /** Targets of this kind that the job selects, and the selected ids this engine knows nothing of. */
  select(job: BackupJob, node: string): BackupTarget[];
  /** Ids of the guests of this kind on this node (for `all` and for reporting unknown ids). */
  guestIds(node: string): string[];
}

/** Host backups of the paths in the job's `host-backup`, as group host/<node>. */
export const hostEngine: GuestEngine = {
  kind: 'host',
  guestIds: () => [],
  select(job, node) {
    if (!job['host-backup']) return [];
    const specs = job['host-backup'].map(parseBackupSpec);
    return [{
      label: `host/${node}`,
      group: { type: 'host', id: node },
      name: node,
      backup: (session, warn) => addSpecs(session, specs, { skipUnchanged: true, warn }),
    }];
  },
};

export const engines: GuestEngine[] = [hostEngine];

function renderNotes(template: string, t: BackupTarget, node: string): string {
  return template
    .replace(/\{\{guestname\}\}/g, t.name)
    .replace(/\{\{vmid\}\}/g, t.group.id)
    .replace(/\{\{node\}\}/g, node)
    .replace(/\{\{cluster\}\}/g, 'guestvault');
}

export interface RunResult {
  upid: string;
  status: string;
}

/**
 * Run a job now: a task that backs up every selected target (a failing one does not stop the
 * others), then prunes each backed-up group by the job's retention. The job state records
 * start, end and result; a job never runs twice at once.
 */
export async function runJob(job: BackupJob, opts: { user: string; echo?: (line: string) => void; now?: () => number } = { user: 'root@pam' }): Promise<RunResult> {
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  const node = localNodeName();
  const lock = acquireLock(join(guestvaultHome(), 'run', 'jobs', `${job.id}.lck`), `job ${job.id}`, `job '${job.id}'`);
  const task = new TaskLog('vzdump', job.id, opts.user, opts.echo);
  try {
    const base = readJobState(job.id).state ?? syncJobState(job, now());
    writeJobState(job.id, { ...base, state: 'started', upid: task.upid, 'last-start': now(), updated: undefined });
    let failed = 0;
    task.log(`starting job ${job.id} on node ${node} (schedule "${job.schedule}", mode ${job.mode})`);
    try {
      const store = Datastore.open(job.storage ?? 'local');
      const targets = engines.flatMap((e) => e.select(job, node));
      const known = new Set(engines.flatMap((e) => e.guestIds(node)));
      for (const id of job.vmid ?? []) {
        if (!known.has(id)) {
          task.log(`ERROR: guest ${id}: unknown guest on node ${node}`);
          failed++;
        }
      }
      if (targets.length === 0 && failed === 0) task.warn('the job selects no guest on this node');
      const keep = job['prune-backups'] ?? store.config['prune-backups'];
      for (const t of targets) {
        const group: GroupRef = { ns: [], ...t.group };
        task.log(`backing up ${t.label} into datastore '${store.name}'`);
        try {
          // Another job backing up the same guest: wait for it, as vzdump's lockwait (default 180 min).
          const session = await BackupSession.start(store, group, {
            owner: opts.user, notice: (m) => task.log(m), lockWaitMs: (job.lockwait ?? 180) * 60_000, progress: logSink((l) => task.log(l)),
          });
          try {
            await t.backup(session, (m) => task.warn(`${t.label}: ${m}`));
            const snap = await session.finish();
            for (const st of session.stats) task.log(`${t.label}: ${summaryLine(st)}`);
            task.log(`${t.label}: snapshot ${formatSnapshot(snap)} finished`);
            if (job['notes-template']) await setNotes(store, snap, renderNotes(job['notes-template'], t, node));
            if (job.protected) setProtected(store, snap, true);
          } catch (err) {
            await session.abort();
            throw err;
          }
          if (keep) {
            const entries = await pruneGroup(store, group, parseKeepOptions(keep), { dryRun: false });
            const removed = entries.filter((e) => e.removed);
            task.log(`${t.label}: prune (${keep}): ${removed.length} of ${entries.length} snapshot(s) removed`);
            for (const e of removed) task.log(`  removed ${e.snapshot}: ${e.reason}`);
          }
        } catch (err) {
          failed++;
          task.log(`ERROR: ${t.label}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    } catch (err) {
      failed++;
      task.log(`ERROR: ${err instanceof Error ? err.message : String(err)}`);
    }
    const status = task.finish(failed > 0 ? new GuestvaultError('E_JOB_ERRORS', failed === 1 ? 'job errors (1 guest failed)' : `job errors (${failed} guests failed)`) : undefined);
    const after = readJobState(job.id).state ?? base;
    writeJobState(job.id, { ...after, state: 'stopped', 'last-end': now(), status });
    return { upid: task.upid, status };
  } finally {
    task.finish();
    lock.release();
  }
}
