import type { KeepCountOption } from './keep-options.js';

/**
 * Retention periods in LOCAL time (the JS Date local getters, which follow TZ), as Proxmox
 * computes them with strftime on localtime: hour `%Y/%m/%d/%H`, day `%Y/%m/%d`, ISO week
 * `%G/%V`, month `%Y/%m`, year `%Y`. The ids here are ISO-8601-like strings that are equal
 * exactly when the Proxmox ids are equal and are readable in reasons:
 *   hour 2026-11-25T23, day 2026-11-25, ISO week 2026-W48, month 2026-11, year 2026.
 * In the repeated hour of a DST change both hours share one id (as with strftime).
 */
export type PeriodKind = 'backup' | 'hour' | 'day' | 'ISO week' | 'month' | 'year';

export const PERIOD_KIND: Record<KeepCountOption, PeriodKind> = {
  'keep-last': 'backup',
  'keep-hourly': 'hour',
  'keep-daily': 'day',
  'keep-weekly': 'ISO week',
  'keep-monthly': 'month',
  'keep-yearly': 'year',
};

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Local calendar fields of a time (month 1-12). */
export type LocalParts = { year: number; month: number; day: number; hour: number; minute: number; second: number };

export function localParts(epochSeconds: number): LocalParts {
  const d = new Date(epochSeconds * 1000);
  return { year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(), hour: d.getHours(), minute: d.getMinutes(), second: d.getSeconds() };
}

const ymd = (p: LocalParts) => `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}`;
const hms = (p: LocalParts) => `${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;

/** Local wall-clock time, e.g. 2026-11-25T23:00:00 (no offset; used in reasons). */
export function formatLocalTime(epochSeconds: number): string {
  const p = localParts(epochSeconds);
  return `${ymd(p)}T${hms(p)}`;
}

/** Midnight UTC of a calendar date (setUTCFullYear: Date.UTC would map years 0-99 to 1900-1999). */
function utcDay(year: number, monthIndex: number, day: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, monthIndex, day);
  return d.getTime();
}

/** ISO-8601 week-based year and week number (weeks start on Monday; week 1 holds the year's first Thursday). */
export function isoWeek(year: number, monthIndex: number, day: number): { year: number; week: number } {
  // Calendar arithmetic on a UTC date, so DST cannot shift the day.
  const date = utcDay(year, monthIndex, day);
  const isoWeekday = ((new Date(date).getUTCDay() + 6) % 7) + 1; // Monday 1 … Sunday 7
  const thursday = date + (4 - isoWeekday) * 86_400_000;
  const weekYear = new Date(thursday).getUTCFullYear();
  const week = Math.floor((thursday - utcDay(weekYear, 0, 1)) / (7 * 86_400_000)) + 1;
  return { year: weekYear, week };
}

/** The id of the period of the given kind that contains these local fields ('backup': the local time itself). */
export function periodIdOf(kind: PeriodKind, p: LocalParts): string {
  switch (kind) {
    case 'backup':
      return `${ymd(p)}T${hms(p)}`;
    case 'hour':
      return `${ymd(p)}T${pad(p.hour)}`;
    case 'day':
      return ymd(p);
    case 'ISO week': {
      const w = isoWeek(p.year, p.month - 1, p.day);
      return `${pad(w.year, 4)}-W${pad(w.week)}`;
    }
    case 'month':
      return `${pad(p.year, 4)}-${pad(p.month)}`;
    case 'year':
      return pad(p.year, 4);
  }
}

/** The id of the local period of the given kind that contains the time. */
export function periodId(kind: PeriodKind, epochSeconds: number): string {
  return periodIdOf(kind, localParts(epochSeconds));
}
