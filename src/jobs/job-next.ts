import { computeNextEvent, parseCalendarEvent } from '../calendar/index.js';
import type { BackupJob } from './job-config.js';
import { localNodeName } from './node-name.js';

/** Whether a job backs up this guest (when it runs on this node). */
export function jobIncludes(job: BackupJob, vmid: string): boolean {
  if (!job.enabled || (job.node && job.node !== localNodeName())) return false;
  if (job.all || (job.exclude && !job.vmid)) return !(job.exclude ?? []).includes(vmid);
  return (job.vmid ?? []).includes(vmid);
}

/** The job's next run after `now` (epoch seconds), or undefined (disabled, never, bad schedule). */
export function nextJobRun(job: BackupJob, now = Math.floor(Date.now() / 1000)): number | undefined {
  if (!job.enabled) return undefined;
  try {
    return computeNextEvent(parseCalendarEvent(job.schedule), now);
  } catch {
    return undefined;
  }
}
