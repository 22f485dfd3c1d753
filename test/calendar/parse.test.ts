import { describe, expect, it } from 'vitest';
import { computeNextEvent, formatCalendarEvent, nextEvents, parseCalendarEvent, type CalendarEvent } from '../../src/calendar/index.js';
import { isGuestvaultError } from '../../src/errors.js';
import { DOCS_CASES, PROXMOX_TIME_CASES, SCHEDULE_CASES, SYSTEMD_FORMAT_CASES } from './cases.js';

function parseError(spec: string): string {
  try {
    parseCalendarEvent(spec);
  } catch (err) {
    expect(isGuestvaultError(err, 'E_CALENDAR'), String(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`'${spec}' parsed`);
}

const norm = (spec: string) => formatCalendarEvent(parseCalendarEvent(spec));

describe('grammar', () => {
  it('a lone number is a minute; omitted parts default as in Proxmox', () => {
    expect(norm('30')).toBe('*-*-* *:30:00');
    expect(norm('mon..fri 22')).toBe('mon..fri *-*-* *:22:00');
    expect(norm('22:00')).toBe('*-*-* 22:00:00');
    expect(norm('mon')).toBe('mon *-*-* 00:00:00');
    expect(norm('2026-11-27')).toBe('2026-11-27 00:00:00');
    expect(norm('11-27 7:5:3')).toBe('*-11-27 07:05:03');
  });

  it('parses every component form', () => {
    const ev = parseCalendarEvent('2020..2030/2-*/3-1,15..20 8..18/2,22:*/15:5');
    expect(ev.years).toEqual([{ kind: 'repeated', start: 2020, step: 2, end: 2030 }]);
    expect(ev.months).toEqual([{ kind: 'repeated', start: 1, step: 3 }]);
    expect(ev.days).toEqual([{ kind: 'single', value: 1 }, { kind: 'range', start: 15, end: 20 }]);
    expect(ev.hours).toEqual([{ kind: 'repeated', start: 8, step: 2, end: 18 }, { kind: 'single', value: 22 }]);
    expect(ev.minutes).toEqual([{ kind: 'repeated', start: 0, step: 15 }]);
    expect(ev.seconds).toEqual([{ kind: 'single', value: 5 }]);
    expect(ev.utc).toBe(false);
  });

  it('weekday names: short or full, any case; lists; ranges that wrap', () => {
    expect(parseCalendarEvent('Monday,WED,fRiDaY').weekdays).toEqual([0, 2, 4]);
    expect(parseCalendarEvent('fri..mon').weekdays).toEqual([0, 4, 5, 6]);
    expect(parseCalendarEvent('sun..sat').weekdays).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(parseCalendarEvent('wed..wed').weekdays).toEqual([2]);
    expect(parseCalendarEvent('sat..tue,thu').weekdays).toEqual([0, 1, 3, 5, 6]);
    expect(norm('fri..mon')).toBe('mon,fri..sun *-*-* 00:00:00');
    expect(norm('mon,tue,wed,thu,fri,sat,sun 1:00')).toBe('*-*-* 01:00:00');
  });

  it('keywords expand as in the reference', () => {
    expect(norm('minutely')).toBe('*-*-* *:*:00');
    expect(norm('hourly')).toBe('*-*-* *:00:00');
    expect(norm('daily')).toBe('*-*-* 00:00:00');
    expect(norm('weekly')).toBe('mon *-*-* 00:00:00');
    expect(norm('monthly')).toBe('*-*-01 00:00:00');
    expect(norm('yearly')).toBe('*-01-01 00:00:00');
    expect(norm('annually')).toBe('*-01-01 00:00:00');
    expect(norm('quarterly')).toBe('*-01,04,07,10-01 00:00:00');
    expect(norm('semiannually')).toBe('*-01,07-01 00:00:00');
    expect(norm('semi-annually')).toBe('*-01,07-01 00:00:00');
  });

  it('UTC suffix: upper case, spaces before it optional', () => {
    for (const spec of ['daily UTC', 'dailyUTC', 'daily   UTC', 'mon..fri 23:00 UTC', '12:00UTC', '2026-01-01 UTC']) {
      expect(parseCalendarEvent(spec).utc, spec).toBe(true);
    }
    expect(norm('mon..fri 23:00 UTC')).toBe('mon..fri *-*-* 23:00:00 UTC');
    expect(parseCalendarEvent('daily').utc).toBe(false);
    expect(computeNextEvent(parseCalendarEvent('daily UTC'), 0)).toBe(86_400);
  });

  it('spaces between the parts are optional; between weekdays/date and time there may be several', () => {
    expect(norm('mon..fri23:00')).toBe('mon..fri *-*-* 23:00:00');
    expect(norm('mon  2026-01-01   1:00')).toBe('mon 2026-01-01 01:00:00');
    expect(norm('*-*-*12:00')).toBe('*-*-* 12:00:00');
    expect(norm('mon ')).toBe('mon *-*-* 00:00:00');
  });
});

describe('parse errors (E_CALENDAR, "SPEC": where and what)', () => {
  const cases: Array<[string, string]> = [
    ['mon..fri 25:00', '"mon..fri 25:00": hour 25 out of range 0..23'],
    ['12:60', '"12:60": minute 60 out of range 0..59'],
    ['1:2:61', '"1:2:61": second 61 out of range 0..59'],
    ['2021-13-01', '"2021-13-01": month 13 out of range 1..12'],
    ['*-02-32', '"*-02-32": day 32 out of range 1..31'],
    ['2200-01-01', '"2200-01-01": year 2200 out of range 0..2199'],
    ['*/0', '"*/0": minute repetition 0 out of range 1..59'],
    ['*/60', '"*/60": minute repetition 60 out of range 1..59'],
    ['10..5:00', '"10..5:00": hour range 10..5: the start is bigger than the end'],
    ['mun 10:00', '"mun 10:00": unknown weekday \'mun\' (expected mon, tue, wed, thu, fri, sat, sun or the full names)'],
    ['Daily', '"Daily": unknown weekday \'Daily\' (keywords are lower case: \'daily\')'],
    ['daily 12:00', '"daily 12:00": \'daily\' must stand alone (optionally followed by \' UTC\')'],
    ['mon, wed', '"mon, wed": expected a weekday after \',\' at \' wed\''],
    ['mon wed', '"mon wed": unexpected \'wed\' after the weekdays (join weekdays with \',\' and no spaces)'],
    ['mon..', '"mon..": expected a weekday after \'mon..\' at the end'],
    ['daily utc', '"daily utc": write the time zone suffix as \'UTC\' (upper case)'],
    ['', '"": empty: expected a keyword (e.g. daily), weekdays, a date or a time'],
    [' UTC', '" UTC": only \'UTC\': expected a keyword (e.g. daily), weekdays, a date or a time before it'],
    ['12:00 ', '"12:00 ": unexpected \' \' after the time'],
    ['12:', '"12:": expected a minute (a number or \'*\') at the end'],
    ['*,5', '"*,5": minute \'*\' cannot be combined with other values at \',5\''],
    ['1.5', '"1.5": unexpected \'.5\' after the time'],
    ['2020-01', '"2020-01": month 2020 out of range 1..12'],
    ['*:4,30:*\n', '"*:4,30:*\\n": unexpected \'\n\' after the time'],
  ];
  for (const [spec, message] of cases) {
    it(JSON.stringify(spec), () => {
      expect(parseError(spec)).toBe(message);
    });
  }

  it('stricter than Proxmox where Proxmox would re-read or accept a value that never matches', () => {
    // Proxmox backtracks: '25:00' becomes minute 25, '0/24:00' minutes 0,24,48.
    expect(parseError('25:00')).toContain('hour 25 out of range 0..23');
    expect(parseError('0/24:00')).toContain('hour repetition 24 out of range 1..23');
    // Proxmox accepts month 0 / day 0 (never matching) and a step of 0 (= the start value).
    expect(parseError('*-0-1')).toContain('month 0 out of range 1..12');
    expect(parseError('*-1-0')).toContain('day 0 out of range 1..31');
    expect(parseError('5/0')).toContain('minute repetition 0 out of range 1..59');
  });
});

describe('normalised form', () => {
  it('sorts, pads, drops duplicates, simplifies ranges and bounded repetitions', () => {
    expect(norm('mon..fri 23:00')).toBe('mon..fri *-*-* 23:00:00');
    expect(norm('sun 01:00')).toBe('sun *-*-* 01:00:00');
    expect(norm('sat,sun')).toBe('sat,sun *-*-* 00:00:00');
    expect(norm('sun,mon,tue')).toBe('mon,tue,sun *-*-* 00:00:00');
    expect(norm('10,5,5,1..3:8')).toBe('*-*-* 01..03,05,10:08:00');
    expect(norm('*/5')).toBe('*-*-* *:00/5:00');
    expect(norm('0/5')).toBe('*-*-* *:00/5:00');
    expect(norm('12..13:5/20')).toBe('*-*-* 12,13:05/20:00');
    expect(norm('4..10/2:0')).toBe('*-*-* 04..10/2:00:00');
    expect(norm('4..11/2:0')).toBe('*-*-* 04..10/2:00:00');
    expect(norm('0..23:0..59:0..59')).toBe('*-*-* *:*:*');
    expect(norm('1965/5-01-01')).toBe('1965/5-01-01 00:00:00');
    expect(norm('0/1-*-*')).toBe('*-*-* 00:00:00');
    expect(norm('5-1..31')).toBe('*-05-* 00:00:00');
  });

  const corpus = [
    ...PROXMOX_TIME_CASES.map((c) => c.spec), ...SCHEDULE_CASES.map((c) => c.spec), ...DOCS_CASES.map((c) => c.spec),
    ...SYSTEMD_FORMAT_CASES.map((c) => c.spec), '*-*-1,31', '*/5:00', '*:0/40', '0/20:0', '*-*-01/5 04:00:00 UTC',
  ];

  it(`is stable and means the same (${new Set(corpus).size} specs)`, () => {
    const starts = [0, 1_596_153_600, 1_764_158_400, 1_835_395_199];
    for (const spec of new Set(corpus)) {
      const ev = parseCalendarEvent(spec);
      const normalized = formatCalendarEvent(ev);
      const again = parseCalendarEvent(normalized);
      expect(formatCalendarEvent(again), spec).toBe(normalized);
      for (const start of starts) expect(nextEvents(again, start, 12), `${spec} / ${normalized}`).toEqual(nextEvents(ev, start, 12));
    }
  });

  it('is stable for generated specs, which compute the same events', () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const comp = (min: number, max: number): string => {
      const a = min + rnd(max - min + 1);
      const b = a + rnd(max - a + 1);
      return [`${a}`, `${a}..${b}`, `${a}/${1 + rnd(max)}`, `${a}..${b}/${1 + rnd(max)}`, '*', `*/${1 + rnd(max)}`, `${a},${b}`][rnd(7)]!;
    };
    const weekdays = ['', 'mon ', 'fri..mon ', 'sat,sun ', 'tue..thu,sat '];
    for (let i = 0; i < 400; i++) {
      const date = rnd(2) ? `${rnd(2) ? `${2020 + rnd(10)}-` : ''}${comp(1, 12)}-${comp(1, 31)} ` : '';
      const spec = `${weekdays[rnd(weekdays.length)]}${date}${comp(0, 23)}:${comp(0, 59)}${rnd(2) ? `:${comp(0, 59)}` : ''}${rnd(3) ? '' : ' UTC'}`;
      let ev: CalendarEvent;
      try {
        ev = parseCalendarEvent(spec);
      } catch (err) {
        throw new Error(`generated spec '${spec}' did not parse: ${String(err)}`);
      }
      const normalized = formatCalendarEvent(ev);
      const again = parseCalendarEvent(normalized);
      expect(formatCalendarEvent(again), spec).toBe(normalized);
      const start = 1_700_000_000 + rnd(100_000_000);
      expect(nextEvents(again, start, 5), `${spec} / ${normalized}`).toEqual(nextEvents(ev, start, 5));
    }
  });
});
