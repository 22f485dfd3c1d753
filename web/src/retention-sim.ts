/**
 * The retention simulator's model: a made-up backup history, marked by the very computePrune the
 * server prunes with (src/retention), so what the page shows is what pruning would do.
 */
import { computePrune } from '../../src/retention/compute-prune.js';
import type { KeepOptions } from '../../src/retention/keep-options.js';

export type Interval = 'hour' | 'day' | 'week' | 'month';

export interface SimSchedule {
  interval: Interval;
  count: number;
  /** The newest backup's local date, YYYY-MM-DD. */
  endDate: string;
  /** Local time of day, HH:MM (for hourly backups only the minutes count). */
  time: string;
}

export interface SimBackup {
  time: number;
  mark: 'keep' | 'remove';
  /** computePrune's reason, e.g. "keep-daily 2/3 (2026-11-25)". */
  reason: string;
  /** The rule that kept it, e.g. "keep-daily 2"; undefined when removed. */
  rule?: string;
}

export const MAX_BACKUPS = 5000;

/** Backup times, newest first, in local time (calendar arithmetic, so DST does not shift them). */
export function simulatedTimes(s: SimSchedule): number[] {
  const d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s.endDate);
  if (!d) throw new Error('Give the date of the newest backup.');
  const t = /^(\d{1,2}):(\d{2})$/.exec(s.time);
  if (!t) throw new Error('Give the time of day as HH:MM.');
  if (!Number.isInteger(s.count) || s.count < 1 || s.count > MAX_BACKUPS) throw new Error(`Simulate from 1 to ${MAX_BACKUPS} backups.`);
  const [y, m, day, hh, mm] = [Number(d[1]), Number(d[2]) - 1, Number(d[3]), Number(t[1]), Number(t[2])];
  const out: number[] = [];
  for (let i = 0; i < s.count; i++) {
    let date: Date;
    switch (s.interval) {
      case 'hour':
        date = new Date(y, m, day, hh - i, mm);
        break;
      case 'day':
        date = new Date(y, m, day - i, hh, mm);
        break;
      case 'week':
        date = new Date(y, m, day - 7 * i, hh, mm);
        break;
      case 'month': {
        const last = new Date(y, m - i + 1, 0).getDate();
        date = new Date(y, m - i, Math.min(day, last), hh, mm);
        break;
      }
    }
    out.push(Math.floor(date.getTime() / 1000));
  }
  return out;
}

/** "keep-daily 2/3 (2026-11-25)" → "keep-daily 2"; the other keep reasons as they are. */
export function ruleOf(reason: string): string {
  const m = /^(keep-[a-z]+) (\d+)\/\d+/.exec(reason);
  if (m) return `${m[1]} ${m[2]}`;
  if (reason === 'keep-all') return 'keep-all';
  if (reason.startsWith('no keep option')) return 'no option: all kept';
  return reason;
}

export function simulate(schedule: SimSchedule, keep: KeepOptions): SimBackup[] {
  const times = simulatedTimes(schedule);
  return computePrune(times.map((t) => ({ 'backup-time': t })), keep).map((d) => {
    const kept = d.mark !== 'remove';
    return { time: d['backup-time'], mark: kept ? 'keep' : 'remove', reason: d.reason, rule: kept ? ruleOf(d.reason) : undefined };
  });
}
