/** Creating, changing and removing jobs, and a job with its next and last run: for the CLI and the API alike. */
import { GuestvaultError } from '../errors.js';
import { openBackupStorage } from '../vzdump/index.js';
import { jobToProps, loadJobsStrict, makeJob, saveJobs, type BackupJob } from './job-config.js';
import { nextJobRun } from './job-next.js';
import { readJobState, removeJobState, syncJobState } from './job-state.js';

/** The job properties one may set (as in jobs.cfg). */
export const JOB_KEYS = [
  'schedule', 'enabled', 'repeat-missed', 'comment', 'vmid', 'all', 'exclude', 'pool', 'node', 'storage', 'mode', 'compress',
  'prune-backups', 'notes-template', 'protected', 'bwlimit', 'lockwait', 'mailto', 'mailnotification', 'notification-mode',
  'script', 'host-backup',
] as const;

export function findJob(jobs: readonly BackupJob[], id: string): BackupJob {
  const job = jobs.find((j) => j.id === id);
  if (!job) throw new GuestvaultError('E_JOB_UNKNOWN', `no job '${id}' (see guestvault job list)`);
  return job;
}

/** A job may only name storages that can take its backups. */
function checkReferences(job: BackupJob): void {
  if (!job.storage) return;
  try {
    openBackupStorage(job.storage);
  } catch (err) {
    throw new GuestvaultError('E_USAGE', `job '${job.id}': ${(err as Error).message}`);
  }
}

export function jobWithRuns(job: BackupJob, now = Math.floor(Date.now() / 1000)) {
  const { state } = readJobState(job.id);
  return {
    ...job,
    'next-run': nextJobRun(job, now) ?? null,
    'last-run': state?.['last-start'] ?? null,
    'last-status': state?.status ?? null,
    'last-upid': state?.upid ?? null,
    running: state?.state === 'started',
  };
}

export function createJob(id: string, props: Record<string, string>): BackupJob {
  const jobs = loadJobsStrict();
  if (jobs.some((j) => j.id === id)) throw new GuestvaultError('E_JOB_EXISTS', `job '${id}' already exists`);
  const job = makeJob(id, props);
  checkReferences(job);
  saveJobs([...jobs, job]);
  syncJobState(job, Math.floor(Date.now() / 1000));
  return job;
}

/** Changes some properties and removes others (`remove`); a changed schedule counts as a fresh start. */
export function updateJob(id: string, change: Record<string, string>, remove: readonly string[] = []): BackupJob {
  const jobs = loadJobsStrict();
  const props = { ...jobToProps(findJob(jobs, id)), ...change };
  for (const k of remove) {
    if (k === 'schedule') throw new GuestvaultError('E_USAGE', 'schedule cannot be deleted');
    delete props[k];
  }
  const job = makeJob(id, props);
  checkReferences(job);
  saveJobs(jobs.map((j) => (j.id === id ? job : j)));
  syncJobState(job, Math.floor(Date.now() / 1000));
  return job;
}

export function deleteJob(id: string): void {
  const jobs = loadJobsStrict();
  findJob(jobs, id);
  saveJobs(jobs.filter((j) => j.id !== id));
  removeJobState(id);
}
