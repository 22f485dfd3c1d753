import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';
import { guestvaultHome } from '../home.js';
import type { BackupJob } from './job-config.js';
import { writeFileAtomic } from '../atomic-file.js';

/**
 * What the scheduler remembers of a job (as PVE's jobs/vzdump-<id>.json): when it was created or
 * last changed, its last run and that run's result. Written atomically; survives restarts.
 */
export interface JobState {
  state: 'created' | 'started' | 'stopped';
  /** Creation time (epoch seconds). */
  time: number;
  /** Set when the schedule or enabled flag changed, or missed runs were skipped: counts as the last run. */
  updated?: number;
  upid?: string;
  'last-start'?: number;
  'last-end'?: number;
  /** `OK`, `WARNINGS: N` or the error text of the last run. */
  status?: string;
  config: { enabled: boolean; schedule: string };
}

export function jobStateFile(id: string): string {
  return join(guestvaultHome(), 'jobs', `vzdump-${id}.json`);
}

export interface StateRead {
  state: JobState | undefined;
  /** Set when the file exists but cannot be used. */
  error?: string;
}

export function readJobState(id: string): StateRead {
  const file = jobStateFile(id);
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { state: undefined };
    return { state: undefined, error: `cannot read ${file}: ${(err as Error).message}` };
  }
  try {
    const s = JSON.parse(raw) as JobState;
    if (typeof s !== 'object' || s === null || typeof s.time !== 'number' || !['created', 'started', 'stopped'].includes(s.state)) {
      throw new Error('not a job state');
    }
    return { state: s };
  } catch (err) {
    return { state: undefined, error: `${file} is corrupt (${(err as Error).message}); the job starts afresh` };
  }
}

export function writeJobState(id: string, s: JobState): void {
  const file = jobStateFile(id);
  writeFileAtomic(file, `${JSON.stringify(s, null, 2)}\n`);
}

export function removeJobState(id: string): void {
  rmSync(jobStateFile(id), { force: true });
}

/** The state of a job, created (or renewed when it changed) as PVE does; `now` in epoch seconds. */
export function syncJobState(job: BackupJob, now: number): JobState {
  const { state } = readJobState(job.id);
  const config = { enabled: job.enabled, schedule: job.schedule };
  if (!state) {
    const fresh: JobState = { state: 'created', time: now, config };
    writeJobState(job.id, fresh);
    return fresh;
  }
  if (state.config?.enabled !== config.enabled || state.config?.schedule !== config.schedule) {
    const changed: JobState = { ...state, config, updated: now };
    writeJobState(job.id, changed);
    return changed;
  }
  return state;
}

/** When the job last counted as run, for the due rule: the latest of creation, change and last start. */
export function lastRuntime(s: JobState): number {
  return Math.max(s.time, s.updated ?? 0, s['last-start'] ?? 0);
}
