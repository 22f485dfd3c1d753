import { computeNextEvent, parseCalendarEvent } from '../calendar/index.js';
import { loadJobs, type BackupJob, type JobsLoad } from './job-config.js';
import { lastRuntime, readJobState, syncJobState, writeJobState } from './job-state.js';
import type { RunResult } from './job-runner.js';
import { localNodeName } from './node-name.js';

export interface SchedulerOptions {
  /** The clock, in epoch seconds (injectable so tests can drive days and weeks in moments). */
  now: () => number;
  /** Runs one job (normally runJob). */
  run: (job: BackupJob) => Promise<RunResult>;
  log: (line: string) => void;
  load?: () => JobsLoad;
}

/**
 * Proxmox's scheduler rules: every tick (once a minute), each enabled job of this node whose
 * next event after its last run is due is started, unless it is still running. On the first
 * tick after a (re)start, jobs without repeat-missed forget the runs they missed; jobs with it
 * run once.
 */
export class Scheduler {
  private readonly running = new Map<string, Promise<void>>();
  private first = true;
  private readonly reported = new Set<string>();

  constructor(private readonly opts: SchedulerOptions) {}

  /** Check all jobs once; returns the ids of the jobs started. */
  tick(): string[] {
    const now = this.opts.now();
    const { jobs, errors } = (this.opts.load ?? loadJobs)();
    for (const e of errors) this.once(e.message);
    const node = localNodeName();
    const started: string[] = [];
    for (const job of jobs) {
      if (!job.enabled || (job.node && job.node !== node)) continue;
      const read = readJobState(job.id);
      if (read.error) this.once(read.error);
      let state = syncJobState(job, now);
      if (this.first && !job['repeat-missed'] && state.state !== 'started') {
        state = { ...state, updated: now };
        writeJobState(job.id, state);
      }
      if (this.running.has(job.id)) continue;
      let next: number | undefined;
      try {
        next = computeNextEvent(parseCalendarEvent(job.schedule), lastRuntime(state));
      } catch (err) {
        this.once(`job '${job.id}': ${(err as Error).message}`);
        continue;
      }
      if (next === undefined || now < next) continue;
      started.push(job.id);
      this.opts.log(`starting job '${job.id}' (due ${new Date(next * 1000).toISOString()})`);
      // The start is recorded before the run, so the due rule moves on even if the run fails.
      writeJobState(job.id, { ...state, state: 'started', 'last-start': now, updated: undefined });
      const finish = (status: string, upid?: string) => {
        const after = readJobState(job.id).state ?? state;
        writeJobState(job.id, { ...after, state: 'stopped', 'last-end': this.opts.now(), status, ...(upid ? { upid } : {}) });
      };
      const p = this.opts.run(job)
        .then((r) => {
          finish(r.status, r.upid);
          this.opts.log(`job '${job.id}' finished: ${r.status} (${r.upid})`);
        })
        .catch((err) => {
          const msg = err instanceof Error ? err.message : String(err);
          finish(msg);
          this.opts.log(`job '${job.id}' failed to run: ${msg}`);
        })
        .finally(() => this.running.delete(job.id));
      this.running.set(job.id, p);
    }
    this.first = false;
    return started;
  }

  /** Resolves when no job started by this scheduler is running. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  get runningJobs(): string[] {
    return [...this.running.keys()];
  }

  private once(message: string): void {
    if (this.reported.has(message)) return;
    this.reported.add(message);
    this.opts.log(`warning: ${message}`);
  }
}
