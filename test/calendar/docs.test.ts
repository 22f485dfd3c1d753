// Evaluated in UTC (" UTC" is appended); the process zone is deliberately not UTC.
process.env.TZ = 'America/New_York';

import { describe, expect, it } from 'vitest';
import { formatCalendarEvent, nextEvents, parseCalendarEvent } from '../../src/calendar/index.js';
import { at, DOCS_CASES, FROM } from './cases.js';

const utc = (spec: string) => parseCalendarEvent(`${spec} UTC`);
const iso = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
/** Start points for comparing two spellings: around a month end, a year end, a leap day. */
const STARTS = [FROM, at('2026-12-31T22:59:30Z'), at('2028-02-28T07:13:00Z'), at('2027-06-06T00:00:00Z')];

describe('Proxmox docs examples (pve-docs calendar-events.adoc, PBS calendarevents.rst)', () => {
  for (const c of DOCS_CASES) {
    describe(`${c.source}: '${c.spec}' — ${c.meaning}`, () => {
      const events = c.events;
      if (events) {
        it(`fires at ${events.join(', ')}`, () => {
          expect(nextEvents(utc(c.spec), c.from ?? FROM, events.length).map(iso)).toEqual(events);
        });
      }
      if (c.equivalentTo !== undefined) {
        const eq = c.equivalentTo;
        it(`equals '${eq}'`, () => {
          for (const start of STARTS) {
            expect(nextEvents(utc(c.spec), start, 40), `from ${iso(start)}`).toEqual(nextEvents(utc(eq), start, 40));
          }
          if (c.sameNormalized !== false) {
            expect(formatCalendarEvent(parseCalendarEvent(c.spec))).toBe(formatCalendarEvent(parseCalendarEvent(eq)));
          }
        });
      }
      if (c.normalized !== undefined) {
        const normalized = c.normalized;
        it(`normalises to '${normalized}'`, () => {
          expect(formatCalendarEvent(parseCalendarEvent(c.spec))).toBe(normalized);
        });
      }
    });
  }

  it('the past date never fires again', () => {
    expect(nextEvents(utc('2015-10-21'), FROM, 1)).toEqual([]);
  });
});
