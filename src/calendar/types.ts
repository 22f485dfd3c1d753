/**
 * One entry of a calendar-event field (proxmox-time `DateTimeValue`). A field is a list of
 * entries; a value matches the field when any entry contains it, and an empty list matches
 * every value (`*`).
 */
export type CalendarValue =
  /** exactly `value` */
  | { readonly kind: 'single'; readonly value: number }
  /** `start..end`, both included */
  | { readonly kind: 'range'; readonly start: number; readonly end: number }
  /** `start/step` (open-ended) or `start..end/step`: start, start+step, … (up to end) */
  | { readonly kind: 'repeated'; readonly start: number; readonly step: number; readonly end?: number };

/** A parsed calendar event (Proxmox / systemd-like schedule such as `mon..fri 23:00`). */
export interface CalendarEvent {
  /** true: evaluated in UTC (the spec ended in `UTC`); false: in local time (the process TZ). */
  readonly utc: boolean;
  /** Weekdays, 0 = Monday … 6 = Sunday, ascending without duplicates; empty = every day. */
  readonly weekdays: readonly number[];
  /** Field lists; an empty list means any value. */
  readonly years: readonly CalendarValue[];
  readonly months: readonly CalendarValue[];
  readonly days: readonly CalendarValue[];
  readonly hours: readonly CalendarValue[];
  readonly minutes: readonly CalendarValue[];
  readonly seconds: readonly CalendarValue[];
}

export type FieldName = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second';

export interface Field {
  readonly name: FieldName;
  /** Smallest and largest value accepted in a spec (a repetition step is 1..max). */
  readonly min: number;
  readonly max: number;
  /** Digits used by the normalised form. */
  readonly width: number;
}

/**
 * Proxmox accepts values below 2200 for years, 13 for months, 32 for days, 24 for hours and 60
 * for minutes and seconds; `*` / `*\/N` start at `min`. Month 0 and day 0 (accepted by Proxmox,
 * but they never match) are rejected here.
 */
export const FIELDS: Readonly<Record<FieldName, Field>> = {
  year: { name: 'year', min: 0, max: 2199, width: 4 },
  month: { name: 'month', min: 1, max: 12, width: 2 },
  day: { name: 'day', min: 1, max: 31, width: 2 },
  hour: { name: 'hour', min: 0, max: 23, width: 2 },
  minute: { name: 'minute', min: 0, max: 59, width: 2 },
  second: { name: 'second', min: 0, max: 59, width: 2 },
};

/** Short weekday names, index 0 = Monday (as Proxmox numbers them). */
export const WEEKDAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
