// Every case here is evaluated in UTC (the spec gets " UTC" as in proxmox-time's own tests), so
// the process zone must not matter: run in a zone far from UTC to prove it.
process.env.TZ = 'Pacific/Auckland';

import { describe, expect, it } from 'vitest';
import { computeNextEvent, formatCalendarEvent, nextEvents, parseCalendarEvent } from '../../src/calendar/index.js';
import { isGuestvaultError } from '../../src/errors.js';
import {
  at, PROXMOX_QUIRK_SEQUENCES, PROXMOX_QUIRKS, PROXMOX_TIME_CASES, PROXMOX_TIME_WEEKDAY_SPECS, PVE_COMMON_CASES, PVE_COMMON_PARSE, PVE_COMMON_REJECTED,
  SCHEDULE_CASES, type NextCase,
} from './cases.js';

const utc = (spec: string) => parseCalendarEvent(`${spec} UTC`);
const iso = (t: number | undefined) => (t === undefined ? 'none' : new Date(t * 1000).toISOString().replace('.000Z', 'Z'));

function checkNext(cases: NextCase[]): void {
  for (const c of cases) {
    expect(iso(computeNextEvent(utc(c.spec), c.last)), `'${c.spec}' after ${iso(c.last)} (${c.last})${c.note ? `: ${c.note}` : ''}`)
      .toBe(c.next === null ? 'none' : iso(c.next));
  }
}

describe('proxmox-time test.rs', () => {
  it('the process zone is not UTC (so UTC-suffixed cases prove zone independence)', () => {
    expect(new Date(0).getTimezoneOffset()).not.toBe(0);
  });

  it(`compute_next_event: ${PROXMOX_TIME_CASES.length} (spec, last, next) cases`, () => {
    checkNext(PROXMOX_TIME_CASES);
  });

  it('weekday names and ranges parse', () => {
    for (const spec of PROXMOX_TIME_WEEKDAY_SPECS) expect(() => parseCalendarEvent(spec), spec).not.toThrow();
    expect(parseCalendarEvent('fri..mon').weekdays).toEqual([0, 4, 5, 6]);
    expect(parseCalendarEvent('mon,tue..wednesday,fri..sat').weekdays).toEqual([0, 1, 2, 4, 5]);
    expect(parseCalendarEvent('monDay').weekdays).toEqual([0]);
  });
});

describe('pve-common calendar_event_test.pl', () => {
  it(`${PVE_COMMON_CASES.length} (spec, last, next) cases`, () => {
    checkNext(PVE_COMMON_CASES);
  });

  it('parses to the same lists', () => {
    const [range, hour23, all, list, mon15] = PVE_COMMON_PARSE.map((s) => parseCalendarEvent(s));
    expect(range!.minutes).toEqual([{ kind: 'range', start: 0, end: 3 }]);
    expect(range!.hours).toEqual([]);
    expect(hour23!.hours).toEqual([{ kind: 'range', start: 23, end: 23 }]);
    expect(all!.weekdays).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(formatCalendarEvent(all!)).toBe('*-*-* 00:00:00');
    expect(list!.weekdays).toEqual([0, 1, 2, 4]);
    expect(mon15!.weekdays).toEqual([0]);
    expect(mon15!.minutes).toEqual([{ kind: 'repeated', start: 0, step: 15 }]);
  });

  it('rejects out-of-range values', () => {
    for (const spec of PVE_COMMON_REJECTED) expect(() => parseCalendarEvent(spec), spec).toThrow(/out of range/);
  });
});

describe('schedules: GUI examples, default backup jobs, wrapping weekdays, repetitions', () => {
  for (const c of SCHEDULE_CASES) {
    it(`${c.spec}${c.note ? ` (${c.note})` : ''}`, () => {
      const got = nextEvents(utc(c.spec), c.from, c.events.length + 1).map(iso);
      const more = c.note?.startsWith('then never') ? [] : [expect.any(String)];
      expect(got).toEqual([...c.events, ...more]);
    });
  }
});

describe('Proxmox quirks kept on purpose', () => {
  it(`${PROXMOX_QUIRKS.length} cases`, () => {
    checkNext(PROXMOX_QUIRKS);
  });

  for (const c of PROXMOX_QUIRK_SEQUENCES) {
    it(`${c.spec}: ${c.note}`, () => {
      expect(nextEvents(utc(c.spec), c.from, c.events.length).map(iso)).toEqual(c.events);
    });
  }

  it('gives up after 1001 steps like Proxmox', () => {
    // Feb 30 never exists: about three steps per year until the limit.
    expect(computeNextEvent(utc('02-30'), 0)).toBeUndefined();
    expect(computeNextEvent(utc('*-04-31'), 0)).toBeUndefined();
  });

  it('a UTC event does not depend on the process zone; without UTC it does', () => {
    const last = at('2026-11-26T12:00:00Z');
    expect(iso(computeNextEvent(parseCalendarEvent('23:00 UTC'), last))).toBe('2026-11-26T23:00:00Z');
    // Auckland is UTC+13 in November: 23:00 there is 10:00 UTC
    expect(iso(computeNextEvent(parseCalendarEvent('23:00'), last))).toBe('2026-11-27T10:00:00Z');
  });
});

describe('computeNextEvent arguments', () => {
  it('is strictly after last and drops fractions of a second', () => {
    const ev = utc('*:*:*');
    expect(computeNextEvent(ev, 100)).toBe(101);
    expect(computeNextEvent(ev, 100.9)).toBe(101);
    expect(computeNextEvent(utc('*:0'), 3600)).toBe(7200);
  });

  it('rejects a last that is not a time', () => {
    for (const bad of [Number.NaN, Infinity, 1e15]) {
      let err: unknown;
      try {
        computeNextEvent(utc('daily'), bad);
      } catch (e) {
        err = e;
      }
      expect(isGuestvaultError(err, 'E_CALENDAR'), String(bad)).toBe(true);
    }
  });

  it('nextEvents stops when the event stops firing', () => {
    expect(nextEvents(utc('2027..2028-02-29'), 0, 5).map(iso)).toEqual(['2028-02-29T00:00:00Z']);
    expect(nextEvents(utc('2015-10-21'), at('2026-01-01T00:00:00Z'), 3)).toEqual([]);
    expect(nextEvents(utc('daily'), 0, 0)).toEqual([]);
  });

  it('is fast: thousands of events per second', () => {
    const specs = ['mon..fri 23:00', 'sun 01:00', '*:0/30', 'sat *-1..7 15:00', 'mon..fri 8..17,22:0/15', 'monthly', '*-*-1,15 2:30'];
    const start = performance.now();
    let n = 0;
    for (const s of specs) {
      const ev = parseCalendarEvent(s);
      n += nextEvents(ev, at('2026-01-01T00:00:00Z'), 500).length;
    }
    const ms = performance.now() - start;
    expect(n).toBe(specs.length * 500);
    expect(ms, `${n} events took ${ms.toFixed(0)} ms`).toBeLessThan(3000);
  });
});
