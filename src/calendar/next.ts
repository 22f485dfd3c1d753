import { GuestvaultError } from '../errors.js';
import { BrokenDownTime } from './time.js';
import type { CalendarEvent } from './types.js';
import { findNext, listContains } from './values.js';

/** Proxmox gives up after this many adjustment steps and reports "no next event". */
const MAX_STEPS = 1000;
/** Epoch seconds JS Date can represent, minus room to move forward. */
const MAX_EPOCH = 8.6e12;

/**
 * The first event strictly after `last` (epoch seconds; a fraction is dropped), or undefined
 * when there is none (a date in the past, an impossible date such as 02-30).
 *
 * The algorithm is proxmox-time's `compute_next_event` (reference §5.2): start one second after
 * `last` and repeatedly fix the largest field that does not match — year, month, day of month,
 * weekday, hour, minute, second — by moving it to the next value the event allows (resetting all
 * smaller fields) or, when the field has no further value, by carrying into the next larger unit;
 * the calendar is normalised after each step as libc does. Like Proxmox it stops after 1001 steps.
 *
 * Faithful to Proxmox also where that is surprising (callers that want to predict PVE/PBS need
 * exactly this):
 * - a day-of-month step adds days, so a target past the end of the month rolls into the next month
 *   and skips its first days: `*-*-1,31` goes from 02-02 to 03-31, not 03-01;
 * - an open-ended repetition offers the next value even past the end of its field, and the roll-over
 *   skips what lies between: `*\/5:00` goes 20:00 → (hour 25 =) 01:00 → 05:00, never 00:00;
 *   `*:0/40` is :00 and :40 but fires at :40 only after the first hour; `*-*-01/5` on 02-28 → 03-06;
 *   `*-01/7-01` in October → August. Steps that divide the field (`*\/15`, `*\/2:00`) are unaffected;
 * - on a spring-forward day a time inside the skipped hour normalises to after the gap and then no
 *   longer matches the hour, so `02:30` does not fire that day at all (next: 02:30 the day after);
 * - on a fall-back day the repeated hour is seen once: after 02:59 summer time comes 03:00 winter
 *   time, so `02:30` fires once (summer time) and `*:0/30` goes 02:00, 02:30 (summer), 03:00.
 * See resolveLocal in time.ts for how nonexistent and repeated wall times are mapped.
 */
export function computeNextEvent(ev: CalendarEvent, last: number): number | undefined {
  if (!Number.isFinite(last) || Math.abs(last) > MAX_EPOCH) {
    throw new GuestvaultError('E_CALENDAR', `cannot compute a calendar event after ${last}: expected seconds since the epoch`);
  }
  let weekdayMask = 0;
  for (const d of ev.weekdays) weekdayMask |= 1 << d;
  const allDays = weekdayMask === 0 || weekdayMask === 0x7f;

  const t = BrokenDownTime.fromEpoch(Math.floor(last) + 1, ev.utc);
  for (let step = 0; step <= MAX_STEPS; step++) {
    if (ev.years.length > 0 && !listContains(ev.years, t.year)) {
      const n = findNext(ev.years, t.year);
      if (n === undefined) return undefined; // no later year: never again
      t.addYears(n - t.year);
      continue;
    }
    if (ev.months.length > 0 && !listContains(ev.months, t.month)) {
      const n = findNext(ev.months, t.month);
      if (n !== undefined) t.addMonths(n - t.month);
      else t.addYears(1);
      continue;
    }
    if (ev.days.length > 0 && !listContains(ev.days, t.day)) {
      const n = findNext(ev.days, t.day);
      if (n !== undefined) t.addDays(n - t.day);
      else t.addMonths(1);
      continue;
    }
    if (!allDays && (weekdayMask & (1 << t.weekday)) === 0) {
      let n = t.weekday + 1;
      while (n < 7 && (weekdayMask & (1 << n)) === 0) n++;
      t.addDays(n - t.weekday); // n = 7: Monday of the next week
      continue;
    }
    if (ev.hours.length > 0 && !listContains(ev.hours, t.hour)) {
      const n = findNext(ev.hours, t.hour);
      if (n !== undefined) t.setTime(n, 0, 0);
      else t.addDays(1);
      continue;
    }
    if (ev.minutes.length > 0 && !listContains(ev.minutes, t.minute)) {
      const n = findNext(ev.minutes, t.minute);
      if (n !== undefined) t.setMinSec(n, 0);
      else t.setTime(t.hour + 1, 0, 0);
      continue;
    }
    if (ev.seconds.length > 0 && !listContains(ev.seconds, t.second)) {
      const n = findNext(ev.seconds, t.second);
      if (n !== undefined) t.setSec(n);
      else t.setMinSec(t.minute + 1, 0);
      continue;
    }
    return t.epoch;
  }
  return undefined;
}

/** Up to `count` consecutive events strictly after `from` (fewer when the event stops firing). */
export function nextEvents(ev: CalendarEvent, from: number, count: number): number[] {
  const out: number[] = [];
  let last = from;
  while (out.length < count) {
    const next = computeNextEvent(ev, last);
    if (next === undefined) break;
    out.push(next);
    last = next;
  }
  return out;
}
