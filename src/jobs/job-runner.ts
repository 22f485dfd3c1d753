import { GuestvaultError } from '../errors.js';
import { guestvaultHome } from '../home.js';
import { TaskLog } from '../tasks/index.js';
import { acquireLock } from '../datastore/index.js';
import { readVzdumpDefaults, runVzdump, withVzdumpDefaults } from '../vzdump/index.js';
import { join } from 'node:path';
import type { BackupJob } from './job-config.js';
import { readJobState, syncJobState, writeJobState } from './job-state.js';
import { localNodeName } from './node-name.js';

export interface RunResult {
  upid: string;
  status: string;
}

/**
 * Run a job now: a task that backs up every selected target (a failing one does not stop the
 * others), then prunes each backed-up group by the job's retention. The job state records
 * start, end and result; a job never runs twice at once.
 */
export interface RunJobOptions {
  user: string;
  echo?: (line: string) => void;
  now?: () => number;
  /** Aborts the run (the current backup cleans up and fails; the rest are not started). */
  signal?: AbortSignal;
  /** Who owns the backup groups written (default: `user`). */
  owner?: string;
  /** Told the task's UPID as soon as it exists. */
  onTask?: (upid: string) => void;
}

export async function runJob(job: BackupJob, opts: RunJobOptions = { user: 'root@pam' }): Promise<RunResult> {
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  const node = localNodeName();
  const lock = acquireLock(join(guestvaultHome(), 'run', 'jobs', `${job.id}.lck`), `job ${job.id}`, `job '${job.id}'`);
  const task = new TaskLog('vzdump', job.id, opts.user, opts.echo);
  opts.onTask?.(task.upid);
  try {
    const base = readJobState(job.id).state ?? syncJobState(job, now());
    writeJobState(job.id, { ...base, state: 'started', upid: task.upid, 'last-start': now(), updated: undefined });
    let failed = 0;
    task.log(`starting job ${job.id} on node ${node} (schedule "${job.schedule}", mode ${job.mode})`);
    try {
      const defaults = readVzdumpDefaults();
      for (const w of defaults.warnings) task.warn(w);
      const r = await runVzdump(withVzdumpDefaults({ ...job }, defaults), task, { user: opts.owner ?? opts.user, node, signal: opts.signal });
      failed += r.failed;
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
