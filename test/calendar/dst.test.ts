// Local-time behaviour across the 2026 summer-time changes in Vienna (CET/CEST):
//   2026-03-29 02:00 CET → 03:00 CEST (02:00..02:59 does not exist)
//   2026-10-25 03:00 CEST → 02:00 CET (02:00..02:59 exists twice)
// Set before any Date is used; vitest runs every test file in its own process.
process.env.TZ = 'Europe/Vienna';

import { describe, expect, it } from 'vitest';
import { computeNextEvent, formatLocalRfc3339, nextEvents, parseCalendarEvent, type CalendarEvent } from '../../src/calendar/index.js';
import { listContains } from '../../src/calendar/values.js';
import { at } from './cases.js';

const local = (spec: string, fromIso: string, count: number) =>
  nextEvents(parseCalendarEvent(spec), at(fromIso), count).map(formatLocalRfc3339);

/** Expected values below were checked against the same algorithm driven by glibc 2.36 mktime. */
describe('DST in Europe/Vienna', () => {
  it('the zone took effect', () => {
    expect(new Date(Date.UTC(2026, 0, 15)).getTimezoneOffset()).toBe(-60);
    expect(new Date(Date.UTC(2026, 6, 15)).getTimezoneOffset()).toBe(-120);
    expect(formatLocalRfc3339(at('2026-11-27T22:00:00Z'))).toBe('2026-11-27T23:00:00+01:00');
  });

  describe('spring forward, 2026-03-29', () => {
    it('a daily 02:30 job does not run on the day 02:30 does not exist', () => {
      // 02:30 normalises to 03:30 CEST, which is no longer hour 2: Proxmox moves on to the next day.
      expect(local('02:30', '2026-03-27T00:00:00+01:00', 4)).toEqual([
        '2026-03-27T02:30:00+01:00', '2026-03-28T02:30:00+01:00', '2026-03-30T02:30:00+02:00', '2026-03-31T02:30:00+02:00',
      ]);
    });

    it('a one-off date/time inside the gap never fires', () => {
      expect(computeNextEvent(parseCalendarEvent('2026-03-29 02:30'), at('2026-01-01T00:00:00Z'))).toBeUndefined();
      expect(local('2026-03-29 03:30', '2026-01-01T00:00:00Z', 2)).toEqual(['2026-03-29T03:30:00+02:00']);
    });

    it('*:0/30 goes from 01:30 CET straight to 03:00 CEST (30 real minutes)', () => {
      expect(local('*:0/30', '2026-03-29T00:00:00+01:00', 6)).toEqual([
        '2026-03-29T00:30:00+01:00', '2026-03-29T01:00:00+01:00', '2026-03-29T01:30:00+01:00',
        '2026-03-29T03:00:00+02:00', '2026-03-29T03:30:00+02:00', '2026-03-29T04:00:00+02:00',
      ]);
    });

    it('hourly: 01:00 CET, then 03:00 CEST', () => {
      expect(local('hourly', '2026-03-29T00:30:00+01:00', 3)).toEqual([
        '2026-03-29T01:00:00+01:00', '2026-03-29T03:00:00+02:00', '2026-03-29T04:00:00+02:00',
      ]);
    });
  });

  describe('fall back, 2026-10-25', () => {
    it('a daily 02:30 job runs once, at the first 02:30 (summer time)', () => {
      expect(local('02:30', '2026-10-23T00:00:00+02:00', 4)).toEqual([
        '2026-10-23T02:30:00+02:00', '2026-10-24T02:30:00+02:00', '2026-10-25T02:30:00+02:00', '2026-10-26T02:30:00+01:00',
      ]);
    });

    it('*:0/30 sees the repeated hour once: 02:30 CEST is followed by 03:00 CET (90 real minutes)', () => {
      expect(local('*:0/30', '2026-10-25T00:00:00+02:00', 8)).toEqual([
        '2026-10-25T00:30:00+02:00', '2026-10-25T01:00:00+02:00', '2026-10-25T01:30:00+02:00', '2026-10-25T02:00:00+02:00',
        '2026-10-25T02:30:00+02:00', '2026-10-25T03:00:00+01:00', '2026-10-25T03:30:00+01:00', '2026-10-25T04:00:00+01:00',
      ]);
    });

    it('starting inside the second 02:xx hour stays in winter time (never earlier than the start)', () => {
      expect(local('*:0/30', '2026-10-25T02:10:00+01:00', 2)).toEqual(['2026-10-25T02:30:00+01:00', '2026-10-25T03:00:00+01:00']);
      expect(local('*:*', '2026-10-25T02:58:00+01:00', 2)).toEqual(['2026-10-25T02:59:00+01:00', '2026-10-25T03:00:00+01:00']);
    });

    it('every minute: 02:59 CEST is followed by 03:00 CET', () => {
      expect(local('*:*', '2026-10-25T02:58:00+02:00', 2)).toEqual(['2026-10-25T02:59:00+02:00', '2026-10-25T03:00:00+01:00']);
    });

    it('a one-off 02:30 on that day fires once (summer time)', () => {
      expect(local('2026-10-25 02:30', '2026-01-01T00:00:00Z', 2)).toEqual(['2026-10-25T02:30:00+02:00']);
    });
  });

  it('the default job schedules keep their local times across both changes', () => {
    expect(local('mon..fri 23:00', '2026-03-26T12:00:00Z', 4)).toEqual([
      '2026-03-26T23:00:00+01:00', '2026-03-27T23:00:00+01:00', '2026-03-30T23:00:00+02:00', '2026-03-31T23:00:00+02:00',
    ]);
    expect(local('sun 01:00', '2026-03-21T12:00:00Z', 2)).toEqual(['2026-03-22T01:00:00+01:00', '2026-03-29T01:00:00+01:00']);
    expect(local('sun 01:00', '2026-10-20T12:00:00Z', 2)).toEqual(['2026-10-25T01:00:00+02:00', '2026-11-01T01:00:00+01:00']);
    expect(local('mon..fri 23:00', '2026-10-23T12:00:00Z', 2)).toEqual(['2026-10-23T23:00:00+02:00', '2026-10-26T23:00:00+01:00']);
  });

  it('a UTC event ignores the local changes', () => {
    expect(local('02:30 UTC', '2026-03-28T00:00:00Z', 3)).toEqual([
      '2026-03-28T03:30:00+01:00', '2026-03-29T04:30:00+02:00', '2026-03-30T04:30:00+02:00',
    ]);
  });

  it('systemd: 2016-03-27 03:17 exists on the change day (Berlin rules)', () => {
    expect(computeNextEvent(parseCalendarEvent('2016-03-27 03:17:00'), 0)).toBe(1_459_041_420);
    expect(computeNextEvent(parseCalendarEvent('Sun 16:00:00'), 1_456_041_600)).toBe(1_456_066_800);
  });

  it('around both changes every event is later than the one before and matches the spec in local time', () => {
    const matches = (ev: CalendarEvent, t: number) => {
      const d = new Date(t * 1000);
      const wd = (d.getDay() + 6) % 7;
      const ok = (list: CalendarEvent['hours'], v: number) => list.length === 0 || listContains(list, v);
      return (ev.weekdays.length === 0 || ev.weekdays.includes(wd)) && ok(ev.months, d.getMonth() + 1) && ok(ev.days, d.getDate())
        && ok(ev.hours, d.getHours()) && ok(ev.minutes, d.getMinutes()) && ok(ev.seconds, d.getSeconds());
    };
    const specs = ['*:*', '*:0/15', 'hourly', '2:*', '1..3:0/20', '02:00', '02:59:59', '03:00', '*:*:0/30', 'sun 2:30', '*-*-25,29 2..3:30'];
    for (const spec of specs) {
      const ev = parseCalendarEvent(spec);
      for (const from of ['2026-03-28T22:00:00Z', '2026-10-24T21:00:00Z']) {
        let last = at(from);
        for (let i = 0; i < 300; i++) {
          const next = computeNextEvent(ev, last);
          if (next === undefined || next > at(from) + 3 * 86_400) break;
          expect(next, `${spec} after ${formatLocalRfc3339(last)}`).toBeGreaterThan(last);
          expect(matches(ev, next), `${spec}: ${formatLocalRfc3339(next)}`).toBe(true);
          last = next;
        }
      }
    }
  });
});
