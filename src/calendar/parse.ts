import { GuestvaultError } from '../errors.js';
import { FIELDS, WEEKDAY_NAMES, type CalendarEvent, type CalendarValue, type Field } from './types.js';

const ZERO: readonly CalendarValue[] = [{ kind: 'single', value: 0 }];
const ONE: readonly CalendarValue[] = [{ kind: 'single', value: 1 }];
const singles = (...values: number[]): CalendarValue[] => values.map((value) => ({ kind: 'single', value }));

function event(parts: Partial<CalendarEvent>): CalendarEvent {
  return { utc: false, weekdays: [], years: [], months: [], days: [], hours: [], minutes: [], seconds: [], ...parts };
}

/** The special values; each stands for the whole spec (apart from a ` UTC` suffix). */
const KEYWORDS: ReadonlyMap<string, CalendarEvent> = new Map([
  ['minutely', event({ seconds: ZERO })],
  ['hourly', event({ minutes: ZERO, seconds: ZERO })],
  ['daily', event({ hours: ZERO, minutes: ZERO, seconds: ZERO })],
  ['weekly', event({ weekdays: [0], hours: ZERO, minutes: ZERO, seconds: ZERO })],
  ['monthly', event({ days: ONE, hours: ZERO, minutes: ZERO, seconds: ZERO })],
  ['yearly', event({ months: ONE, days: ONE, hours: ZERO, minutes: ZERO, seconds: ZERO })],
  ['annually', event({ months: ONE, days: ONE, hours: ZERO, minutes: ZERO, seconds: ZERO })],
  ['quarterly', event({ months: singles(1, 4, 7, 10), days: ONE, hours: ZERO, minutes: ZERO, seconds: ZERO })],
  ['semiannually', event({ months: singles(1, 7), days: ONE, hours: ZERO, minutes: ZERO, seconds: ZERO })],
  ['semi-annually', event({ months: singles(1, 7), days: ONE, hours: ZERO, minutes: ZERO, seconds: ZERO })],
]);

const WEEKDAYS: ReadonlyMap<string, number> = new Map([
  ...WEEKDAY_NAMES.map((name, i) => [name, i] as const),
  ...['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'].map((name, i) => [name, i] as const),
]);

/** Characters a date or time component list is made of. */
const COMPONENT_CHARS = /[0-9*,./]/;

/**
 * Parse a calendar event as Proxmox does (proxmox-time, reference §5.1):
 *
 *   [WEEKDAYS] [[YYYY-]MM-DD] [[HH:]MM[:SS]] [UTC]   or a keyword (daily, weekly, …)
 *
 * - WEEKDAYS: `mon`…`sun` or full names, any case; lists `mon,wed`; ranges `mon..fri`, wrapping
 *   `fri..mon` (= fri,sat,sun,mon).
 * - Every date/time component: `*`, `*\/R`, or a list of `N`, `N..M`, `N/R`, `N..M/R`.
 * - A lone number (no `:`) is a MINUTE: `30` = every hour at :30. Omitted hour = every hour,
 *   omitted seconds = 0, omitted time = 00:00:00, omitted date = every day.
 * - A trailing `UTC` (upper case, spaces before it optional) evaluates the event in UTC, else in
 *   local time. Keywords are lower case and stand alone.
 *
 * Stricter than Proxmox (which backtracks and reads such a text differently, or accepts values
 * that never match): an hour that is out of range is an error (Proxmox reads `25:00` as minute 25,
 * second 0), month and day 0 are errors, and a repetition step must be at least 1 (Proxmox takes
 * `5/0` as 5 and rejects only `*\/0`).
 *
 * Errors: GuestvaultError E_CALENDAR, `"SPEC": where and what`.
 */
export function parseCalendarEvent(spec: string): CalendarEvent {
  return new Parser(spec).parse();
}

type Part = 'weekdays' | 'date' | 'time';

class Parser {
  private text = '';
  private pos = 0;

  constructor(private readonly spec: string) {}

  private fail(message: string): never {
    throw new GuestvaultError('E_CALENDAR', `${JSON.stringify(this.spec)}: ${message}`);
  }

  private rest(): string {
    return this.text.slice(this.pos);
  }

  /** "at 'xyz'" or "at the end" for messages. */
  private here(): string {
    return this.pos < this.text.length ? `at '${this.rest()}'` : 'at the end';
  }

  parse(): CalendarEvent {
    let text = this.spec;
    let utc = false;
    if (text.endsWith('UTC')) {
      utc = true;
      text = text.slice(0, -3).replace(/ +$/, '');
    } else if (/(^|\s)utc$/i.test(text)) {
      this.fail("write the time zone suffix as 'UTC' (upper case)");
    }
    this.text = text;
    if (text === '') {
      this.fail(utc ? "only 'UTC': expected a keyword (e.g. daily), weekdays, a date or a time before it"
        : 'empty: expected a keyword (e.g. daily), weekdays, a date or a time');
    }

    const keyword = KEYWORDS.get(text);
    if (keyword) return { ...keyword, utc };

    let weekdays: number[] = [];
    let last: Part | undefined;
    if (/^[A-Za-z]/.test(text)) {
      weekdays = this.weekdays();
      last = 'weekdays';
      this.spaces();
    }
    let years: CalendarValue[] = [];
    let months: CalendarValue[] = [];
    let days: CalendarValue[] = [];
    if (this.pos < text.length && this.dateAhead()) {
      ({ years, months, days } = this.date());
      last = 'date';
      this.spaces();
    }
    let hours: readonly CalendarValue[] = ZERO;
    let minutes: readonly CalendarValue[] = ZERO;
    let seconds: readonly CalendarValue[] = ZERO;
    if (this.pos < text.length) {
      if (last !== undefined && /^[A-Za-z]/.test(this.rest())) {
        const hint = last === 'weekdays' ? " (join weekdays with ',' and no spaces)" : '';
        this.fail(`unexpected '${this.rest()}' after the ${last}${hint}`);
      }
      ({ hours, minutes, seconds } = this.time());
      last = 'time';
    }
    if (this.pos < text.length) {
      this.fail(`unexpected '${this.rest()}' after the ${last ?? 'start'}`);
    }
    return { utc, weekdays, years, months, days, hours, minutes, seconds };
  }

  private spaces(): void {
    while (this.text[this.pos] === ' ' || this.text[this.pos] === '\t') this.pos++;
  }

  private word(): string {
    const m = /^[A-Za-z]+/.exec(this.rest());
    this.pos += m ? m[0].length : 0;
    return m ? m[0] : '';
  }

  private weekday(after?: string): number {
    const word = this.word();
    if (word === '') {
      this.fail(after === undefined ? `expected a weekday ${this.here()}` : `expected a weekday after '${after}' ${this.here()}`);
    }
    const day = WEEKDAYS.get(word.toLowerCase());
    if (day !== undefined) return day;
    const lower = word.toLowerCase();
    if (KEYWORDS.has(lower)) {
      this.fail(word === lower ? `'${word}' must stand alone (optionally followed by ' UTC')`
        : `unknown weekday '${word}' (keywords are lower case: '${lower}')`);
    }
    this.fail(`unknown weekday '${word}' (expected mon, tue, wed, thu, fri, sat, sun or the full names)`);
  }

  private weekdays(): number[] {
    let mask = 0;
    for (;;) {
      const start = this.weekday(mask === 0 ? undefined : ',');
      let end = start;
      if (this.text.startsWith('..', this.pos)) {
        this.pos += 2;
        end = this.weekday(`${WEEKDAY_NAMES[start]}..`);
      }
      // start > end wraps around the week end: fri..mon = fri,sat,sun,mon
      for (let d = start; ; d = (d + 1) % 7) {
        mask |= 1 << d;
        if (d === end) break;
      }
      if (this.text[this.pos] !== ',') break;
      this.pos++;
    }
    return WEEKDAY_NAMES.map((_, i) => i).filter((i) => mask & (1 << i));
  }

  /** Index of the first character after the component list starting at `from`. */
  private componentEnd(from: number): number {
    let i = from;
    while (i < this.text.length && COMPONENT_CHARS.test(this.text[i]!)) i++;
    return i;
  }

  private dateAhead(): boolean {
    return this.text[this.componentEnd(this.pos)] === '-';
  }

  private expect(c: string, what: string): void {
    if (this.text[this.pos] !== c) this.fail(`expected '${c}' ${what} ${this.here()}`);
    this.pos++;
  }

  private date(): { years: CalendarValue[]; months: CalendarValue[]; days: CalendarValue[] } {
    const firstDash = this.componentEnd(this.pos);
    const withYear = this.text[this.componentEnd(firstDash + 1)] === '-';
    const years = withYear ? this.list(FIELDS.year) : [];
    if (withYear) this.expect('-', 'after the year');
    const months = this.list(FIELDS.month);
    this.expect('-', 'after the month');
    const days = this.list(FIELDS.day);
    return { years, months, days };
  }

  private time(): { hours: CalendarValue[]; minutes: CalendarValue[]; seconds: readonly CalendarValue[] } {
    const withHour = this.text[this.componentEnd(this.pos)] === ':';
    const hours = withHour ? this.list(FIELDS.hour) : [];
    if (withHour) this.expect(':', 'after the hour');
    const minutes = this.list(FIELDS.minute);
    let seconds: readonly CalendarValue[] = ZERO;
    if (this.text[this.pos] === ':') {
      this.pos++;
      seconds = this.list(FIELDS.second);
    }
    return { hours, minutes, seconds };
  }

  /** `*`, `*\/R` or a comma list of N, N..M, N/R, N..M/R. */
  private list(field: Field): CalendarValue[] {
    if (this.text[this.pos] === '*') {
      this.pos++;
      if (this.text[this.pos] === '/') {
        this.pos++;
        return [{ kind: 'repeated', start: field.min, step: this.step(field) }];
      }
      if (this.text[this.pos] === ',') {
        this.fail(`${field.name} '*' cannot be combined with other values ${this.here()}`);
      }
      return [];
    }
    const out = [this.component(field)];
    while (this.text[this.pos] === ',') {
      this.pos++;
      out.push(this.component(field));
    }
    return out;
  }

  private component(field: Field): CalendarValue {
    const start = this.value(field);
    if (this.text.startsWith('..', this.pos)) {
      this.pos += 2;
      const end = this.value(field);
      if (start > end) this.fail(`${field.name} range ${start}..${end}: the start is bigger than the end`);
      if (this.text[this.pos] === '/') {
        this.pos++;
        return { kind: 'repeated', start, step: this.step(field), end };
      }
      return { kind: 'range', start, end };
    }
    if (this.text[this.pos] === '/') {
      this.pos++;
      return { kind: 'repeated', start, step: this.step(field) };
    }
    return { kind: 'single', value: start };
  }

  private digits(): string {
    const m = /^[0-9]+/.exec(this.rest());
    this.pos += m ? m[0].length : 0;
    return m ? m[0] : '';
  }

  private value(field: Field): number {
    const digits = this.digits();
    if (digits === '') this.fail(`expected a ${field.name} (a number or '*') ${this.here()}`);
    const v = Number(digits);
    if (v < field.min || v > field.max) this.fail(`${field.name} ${digits} out of range ${field.min}..${field.max}`);
    return v;
  }

  private step(field: Field): number {
    const digits = this.digits();
    if (digits === '') this.fail(`expected a ${field.name} repetition (a number) after '/' ${this.here()}`);
    const v = Number(digits);
    if (v < 1 || v > field.max) this.fail(`${field.name} repetition ${digits} out of range 1..${field.max}`);
    return v;
  }
}
