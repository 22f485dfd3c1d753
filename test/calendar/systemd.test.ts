// Cases from systemd's test-calendarspec.c. A case names a zone; the process zone is switched to it
// (vitest gives every test file its own process, and Node re-reads TZ when it is assigned).
import { afterAll, describe, expect, it } from 'vitest';
import { computeNextEvent, formatCalendarEvent, parseCalendarEvent } from '../../src/calendar/index.js';
import { isGuestvaultError } from '../../src/errors.js';
import { SYSTEMD_FORMAT_CASES, SYSTEMD_NEXT_CASES, SYSTEMD_REJECTED, SYSTEMD_REJECTED_PROXMOX_ACCEPTS } from './cases.js';

const originalTz = process.env.TZ;
afterAll(() => {
  if (originalTz === undefined) delete process.env.TZ;
  else process.env.TZ = originalTz;
});

function inZone<T>(tz: string, fn: () => T): T {
  process.env.TZ = tz;
  return fn();
}

describe('systemd test_calendar_spec_next', () => {
  it('switching TZ takes effect', () => {
    const jan = Date.UTC(2020, 0, 15) / 1000;
    expect(inZone('Pacific/Auckland', () => new Date(jan * 1000).getTimezoneOffset())).toBe(-780);
    expect(inZone('Europe/Berlin', () => new Date(jan * 1000).getTimezoneOffset())).toBe(-60);
    expect(inZone('UTC', () => new Date(jan * 1000).getTimezoneOffset())).toBe(0);
  });

  for (const c of SYSTEMD_NEXT_CASES) {
    const expected = c.proxmox !== undefined ? c.proxmox : c.next;
    const label = `'${c.spec}' in ${c.tz} after ${c.last} → ${expected ?? 'never'}${c.proxmox !== undefined ? ` (Proxmox; systemd: ${c.next})` : ''}`;
    it(c.note ? `${label}: ${c.note}` : label, () => {
      const next = inZone(c.tz, () => computeNextEvent(parseCalendarEvent(c.spec), c.last));
      expect(next ?? null).toBe(expected);
    });
  }
});

describe('systemd test_calendar_spec_one (normalised forms)', () => {
  for (const c of SYSTEMD_FORMAT_CASES) {
    it(`'${c.spec}' → '${c.normalized}'${c.differs ? ` (systemd '${c.systemd}': ${c.differs})` : ''}`, () => {
      const normalized = formatCalendarEvent(parseCalendarEvent(c.spec));
      expect(normalized).toBe(c.normalized);
      if (!c.differs) expect(normalized).toBe(c.systemd.toLowerCase()); // systemd capitalises weekdays
      // normalised text parses back and normalises to itself
      expect(formatCalendarEvent(parseCalendarEvent(normalized))).toBe(normalized);
    });
  }
});

describe('systemd test_calendar_spec_from_string (rejected)', () => {
  it(`rejects ${SYSTEMD_REJECTED.length} specs with E_CALENDAR`, () => {
    for (const spec of SYSTEMD_REJECTED) {
      let err: unknown;
      try {
        parseCalendarEvent(spec);
      } catch (e) {
        err = e;
      }
      expect(isGuestvaultError(err, 'E_CALENDAR'), JSON.stringify(spec)).toBe(true);
      expect((err as Error).message.startsWith(`${JSON.stringify(spec)}: `)).toBe(true);
    }
  });

  it('accepts what systemd rejects but Proxmox takes (a lone number is a minute)', () => {
    for (const c of SYSTEMD_REJECTED_PROXMOX_ACCEPTS) expect(formatCalendarEvent(parseCalendarEvent(c.spec))).toBe(c.normalized);
  });
});
