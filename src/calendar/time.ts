/**
 * Broken-down calendar time that can be edited field by field and is normalised after every
 * edit, the way proxmox-time's `TmEditor` uses libc `timegm`/`mktime`. Pure: local time comes
 * from the JS Date zone functions (the TZ of the process), never from the clock.
 */

const DAY = 86_400;

/** Days from 1970-01-01 to the given proleptic Gregorian date; month and day may overflow. */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y0 = year + Math.floor((month - 1) / 12);
  const m = (((month - 1) % 12) + 12) % 12 + 1;
  // Count years from March so that the leap day is the last day of the "year".
  const y = m <= 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * ((m + 9) % 12) + 2) / 5);
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468 + (day - 1);
}

/** The date of a day number (days since 1970-01-01). */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** Seconds east of UTC of the process time zone at `epoch` (whole seconds). */
export function localOffset(epoch: number): number {
  return Math.round(-new Date(epoch * 1000).getTimezoneOffset() * 60);
}

/**
 * The instant of a local wall-clock time, given as "wall seconds" (the epoch the wall time would
 * have in UTC), and the UTC offset in force there.
 *
 * - A wall time that exists once maps to that instant.
 * - A wall time skipped by a forward change (spring forward: 02:30 on a day that jumps from 02:00
 *   to 03:00) is read with the offset from before the change, so it lands as far after the gap
 *   as it was into it (02:30 → 03:30). That is what glibc `mktime` with tm_isdst = -1 does for
 *   ordinary summer time (checked against glibc 2.36) and what ECMAScript Date does.
 * - A wall time that exists twice (fall back) keeps `hint`, the offset the time had before the
 *   edit, when that is one of the two; otherwise the earlier instant is taken. glibc `mktime`
 *   starts from the offset of its previous result anywhere in the process, so inside one
 *   next-event computation it behaves like this; its choice for the very first step depends on
 *   earlier, unrelated calls and cannot be reproduced. Keeping the offset also guarantees that
 *   moving forward in wall time never moves backward in real time.
 */
export function resolveLocal(wall: number, hint: number): { epoch: number; offset: number } {
  const before = localOffset(wall - DAY);
  const after = localOffset(wall + DAY);
  let first: { epoch: number; offset: number } | undefined;
  let second: { epoch: number; offset: number } | undefined;
  for (const offset of before === after ? [before, localOffset(wall - before)] : [before, after]) {
    const epoch = wall - offset;
    if (localOffset(epoch) !== offset) continue;
    if (first === undefined) first = { epoch, offset };
    else if (first.offset !== offset) second = { epoch, offset };
  }
  if (first === undefined) {
    const epoch = wall - before;
    return { epoch, offset: localOffset(epoch) };
  }
  if (second === undefined) return first;
  if (second.offset === hint && first.offset !== hint) return second;
  if (first.offset === hint) return first;
  return first.epoch <= second.epoch ? first : second;
}

/** Editable broken-down time (UTC or local); every edit resets the smaller fields and normalises. */
export class BrokenDownTime {
  year = 1970;
  month = 1;
  day = 1;
  hour = 0;
  minute = 0;
  second = 0;
  /** 0 = Monday … 6 = Sunday */
  weekday = 3;
  /** The instant these fields denote. */
  epoch = 0;
  private offset = 0;

  private constructor(private readonly utc: boolean) {}

  static fromEpoch(epoch: number, utc: boolean): BrokenDownTime {
    const t = new BrokenDownTime(utc);
    t.assign(epoch, utc ? 0 : localOffset(epoch));
    return t;
  }

  private assign(epoch: number, offset: number): void {
    this.epoch = epoch;
    this.offset = offset;
    const wall = epoch + offset;
    const days = Math.floor(wall / DAY);
    const secs = wall - days * DAY;
    const date = civilFromDays(days);
    this.year = date.year;
    this.month = date.month;
    this.day = date.day;
    this.hour = Math.floor(secs / 3600);
    this.minute = Math.floor((secs % 3600) / 60);
    this.second = secs % 60;
    this.weekday = (((days + 3) % 7) + 7) % 7; // 1970-01-01 was a Thursday
  }

  /** Set all fields (any may overflow) and normalise, like mktime/timegm. */
  private set(year: number, month: number, day: number, hour: number, minute: number, second: number): void {
    const wall = daysFromCivil(year, month, day) * DAY + hour * 3600 + minute * 60 + second;
    if (this.utc) {
      this.assign(wall, 0);
    } else {
      const { epoch, offset } = resolveLocal(wall, this.offset);
      this.assign(epoch, offset);
    }
  }

  addYears(n: number): void {
    if (n !== 0) this.set(this.year + n, 1, 1, 0, 0, 0);
  }

  addMonths(n: number): void {
    if (n !== 0) this.set(this.year, this.month + n, 1, 0, 0, 0);
  }

  addDays(n: number): void {
    if (n !== 0) this.set(this.year, this.month, this.day + n, 0, 0, 0);
  }

  setTime(hour: number, minute: number, second: number): void {
    this.set(this.year, this.month, this.day, hour, minute, second);
  }

  setMinSec(minute: number, second: number): void {
    this.set(this.year, this.month, this.day, this.hour, minute, second);
  }

  setSec(second: number): void {
    this.set(this.year, this.month, this.day, this.hour, this.minute, second);
  }
}
