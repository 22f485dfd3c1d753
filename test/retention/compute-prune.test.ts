// Fixed local time zone for this file (vitest runs every test file in its own process).
process.env.TZ = 'UTC';

import { describe, expect, it } from 'vitest';
import { isGuestvaultError } from '../../src/errors.js';
import { computePrune, isoWeek, parseKeepOptions, periodId } from '../../src/retention/index.js';
import { at, checkWorkedExample, daily, prune } from './helpers.js';

type Case = { name: string; keep: string; backups: string[]; expected: string[] };

/** Each case lists the backups (any order) and every decision, newest first. */
const cases: Case[] = [
  {
    name: 'keep-last only',
    keep: 'keep-last=3',
    backups: ['2024-05-01 10:00', '2024-05-01 11:00', '2024-05-02 10:00', '2024-05-03 10:00', '2024-05-03 10:00:01'],
    expected: [
      '2024-05-03T10:00:01 keep: keep-last 1/3 (2024-05-03T10:00:01)',
      '2024-05-03T10:00:00 keep: keep-last 2/3 (2024-05-03T10:00:00)',
      '2024-05-02T10:00:00 keep: keep-last 3/3 (2024-05-02T10:00:00)',
      '2024-05-01T11:00:00 remove: beyond keep-last 3',
      '2024-05-01T10:00:00 remove: beyond keep-last 3',
    ],
  },
  {
    name: 'keep-hourly',
    keep: 'keep-hourly=2',
    backups: ['2024-05-01 10:05', '2024-05-01 10:40', '2024-05-01 11:10', '2024-05-01 11:50', '2024-05-01 12:30'],
    expected: [
      '2024-05-01T12:30:00 keep: keep-hourly 1/2 (2024-05-01T12)',
      '2024-05-01T11:50:00 keep: keep-hourly 2/2 (2024-05-01T11)',
      '2024-05-01T11:10:00 remove: superseded in its hour 2024-05-01T11 by 2024-05-01T11:50:00',
      '2024-05-01T10:40:00 remove: beyond keep-hourly 2',
      '2024-05-01T10:05:00 remove: beyond keep-hourly 2',
    ],
  },
  {
    name: 'keep-weekly across a year boundary (ISO week 1 starts in December)',
    keep: 'keep-weekly=3',
    backups: ['2024-12-27 02:00', '2024-12-29 02:00', '2024-12-30 02:00', '2025-01-01 02:00', '2025-01-06 02:00'],
    expected: [
      '2025-01-06T02:00:00 keep: keep-weekly 1/3 (2025-W02)',
      '2025-01-01T02:00:00 keep: keep-weekly 2/3 (2025-W01)',
      '2024-12-30T02:00:00 remove: superseded in its ISO week 2025-W01 by 2025-01-01T02:00:00',
      '2024-12-29T02:00:00 keep: keep-weekly 3/3 (2024-W52)',
      '2024-12-27T02:00:00 remove: superseded in its ISO week 2024-W52 by 2024-12-29T02:00:00',
    ],
  },
  {
    name: 'keep-weekly across a year boundary (week 53 reaches into January)',
    keep: 'keep-weekly=2',
    backups: ['2020-12-27 23:00', '2020-12-31 02:00', '2021-01-02 02:00', '2021-01-05 02:00'],
    expected: [
      '2021-01-05T02:00:00 keep: keep-weekly 1/2 (2021-W01)',
      '2021-01-02T02:00:00 keep: keep-weekly 2/2 (2020-W53)',
      '2020-12-31T02:00:00 remove: superseded in its ISO week 2020-W53 by 2021-01-02T02:00:00',
      '2020-12-27T23:00:00 remove: beyond keep-weekly 2',
    ],
  },
  {
    name: 'keep-monthly and keep-yearly',
    keep: 'keep-monthly=2,keep-yearly=2',
    backups: ['2022-06-01 00:00', '2022-12-31 23:59', '2023-03-15 12:00', '2023-11-30 12:00', '2024-01-10 12:00', '2024-02-01 00:00', '2024-02-29 23:00'],
    expected: [
      '2024-02-29T23:00:00 keep: keep-monthly 1/2 (2024-02)',
      '2024-02-01T00:00:00 remove: superseded in its month 2024-02 by 2024-02-29T23:00:00',
      '2024-01-10T12:00:00 keep: keep-monthly 2/2 (2024-01)',
      // 2024 is covered by keep-monthly: keep-yearly's two slots go to 2023 and 2022.
      '2023-11-30T12:00:00 keep: keep-yearly 1/2 (2023)',
      '2023-03-15T12:00:00 remove: superseded in its year 2023 by 2023-11-30T12:00:00',
      '2022-12-31T23:59:00 keep: keep-yearly 2/2 (2022)',
      '2022-06-01T00:00:00 remove: superseded in its year 2022 by 2022-12-31T23:59:00',
    ],
  },
  {
    name: 'protected in the middle neither counts nor is removed',
    keep: 'keep-last=2',
    backups: ['2024-05-01 10:00', '2024-05-02 10:00 protected', '2024-05-03 10:00', '2024-05-04 10:00 protected', '2024-05-05 10:00', '2024-04-01 10:00 protected'],
    expected: [
      '2024-05-05T10:00:00 keep: keep-last 1/2 (2024-05-05T10:00:00)',
      '2024-05-04T10:00:00 protected: protected',
      '2024-05-03T10:00:00 keep: keep-last 2/2 (2024-05-03T10:00:00)',
      '2024-05-02T10:00:00 protected: protected',
      '2024-05-01T10:00:00 remove: beyond keep-last 2',
      '2024-04-01T10:00:00 protected: protected',
    ],
  },
  {
    name: 'a protected backup does not cover its period',
    keep: 'keep-daily=1',
    backups: ['2024-05-01 23:00 protected', '2024-05-01 22:00', '2024-05-01 21:00'],
    expected: [
      '2024-05-01T23:00:00 protected: protected',
      '2024-05-01T22:00:00 keep: keep-daily 1/1 (2024-05-01)',
      '2024-05-01T21:00:00 remove: superseded in its day 2024-05-01 by 2024-05-01T22:00:00',
    ],
  },
  {
    name: 'newest unfinished is kept partial, older unfinished removed, neither counts',
    keep: 'keep-last=2',
    backups: ['2024-05-05 10:00 unfinished', '2024-05-04 10:00', '2024-05-03 10:00 unfinished', '2024-05-02 10:00', '2024-05-01 10:00'],
    expected: [
      '2024-05-05T10:00:00 keep-partial: newest snapshot is unfinished: a backup may be running',
      '2024-05-04T10:00:00 keep: keep-last 1/2 (2024-05-04T10:00:00)',
      '2024-05-03T10:00:00 remove: unfinished (no manifest)',
      '2024-05-02T10:00:00 keep: keep-last 2/2 (2024-05-02T10:00:00)',
      '2024-05-01T10:00:00 remove: beyond keep-last 2',
    ],
  },
  {
    name: 'only the newest snapshot may stay unfinished; a protected unfinished one stays protected',
    keep: 'keep-daily=5',
    backups: ['2024-05-05 10:00', '2024-05-04 10:00 unfinished', '2024-05-03 10:00 unfinished protected', '2024-05-02 10:00'],
    expected: [
      '2024-05-05T10:00:00 keep: keep-daily 1/5 (2024-05-05)',
      '2024-05-04T10:00:00 remove: unfinished (no manifest)',
      '2024-05-03T10:00:00 protected: protected',
      '2024-05-02T10:00:00 keep: keep-daily 2/5 (2024-05-02)',
    ],
  },
  {
    name: 'keep-all keeps everything and preserves protected marks',
    keep: 'keep-all=1',
    backups: ['2024-05-03 10:00 unfinished', '2024-05-02 10:00 protected', '2024-05-01 10:00', '2024-05-01 09:00 unfinished'],
    expected: [
      '2024-05-03T10:00:00 keep: keep-all',
      '2024-05-02T10:00:00 protected: protected',
      '2024-05-01T10:00:00 keep: keep-all',
      '2024-05-01T09:00:00 keep: keep-all',
    ],
  },
  {
    name: 'all options zero keeps everything',
    keep: 'keep-last=0,keep-daily=0,keep-yearly=0',
    backups: ['2024-05-02 10:00 protected', '2024-05-01 10:00'],
    expected: [
      '2024-05-02T10:00:00 protected: protected',
      '2024-05-01T10:00:00 keep: no keep option set: everything is kept',
    ],
  },
  {
    name: 'no options at all keeps everything',
    keep: '',
    backups: ['2024-05-01 10:00'],
    expected: ['2024-05-01T10:00:00 keep: no keep option set: everything is kept'],
  },
  {
    name: 'periods without backups do not count',
    keep: 'keep-daily=3',
    backups: ['2024-05-01 10:00', '2024-05-05 10:00', '2024-05-09 10:00', '2024-05-20 10:00'],
    expected: [
      '2024-05-20T10:00:00 keep: keep-daily 1/3 (2024-05-20)',
      '2024-05-09T10:00:00 keep: keep-daily 2/3 (2024-05-09)',
      '2024-05-05T10:00:00 keep: keep-daily 3/3 (2024-05-05)',
      '2024-05-01T10:00:00 remove: beyond keep-daily 3',
    ],
  },
  {
    name: 'a later option uses no quota for periods an earlier option kept',
    keep: 'keep-daily=2,keep-weekly=2',
    // Wed 2024-05-15 … Tue 2024-04-30: weeks W20 (13-15), W19 (6-12), W18 (Apr 29 - May 5).
    backups: daily('2024-04-30', '2024-05-15'),
    expected: [
      '2024-05-15T02:00:00 keep: keep-daily 1/2 (2024-05-15)',
      '2024-05-14T02:00:00 keep: keep-daily 2/2 (2024-05-14)',
      '2024-05-13T02:00:00 remove: beyond keep-daily 2; ISO week 2024-W20 already kept by 2024-05-15T02:00:00 (keep-daily)',
      '2024-05-12T02:00:00 keep: keep-weekly 1/2 (2024-W19)',
      ...['11', '10', '09', '08', '07', '06'].map((d) => `2024-05-${d}T02:00:00 remove: superseded in its ISO week 2024-W19 by 2024-05-12T02:00:00`),
      '2024-05-05T02:00:00 keep: keep-weekly 2/2 (2024-W18)',
      ...['05-04', '05-03', '05-02', '05-01', '04-30'].map((d) => `2024-${d}T02:00:00 remove: superseded in its ISO week 2024-W18 by 2024-05-05T02:00:00`),
    ],
  },
  {
    name: 'a backup superseded by one option cannot be kept by a later one',
    keep: 'keep-weekly=1,keep-monthly=2',
    // ISO week 2024-W05 is Mon Jan 29 … Sun Feb 4.
    backups: ['2024-02-01 02:00', '2024-01-30 02:00'],
    expected: [
      '2024-02-01T02:00:00 keep: keep-weekly 1/1 (2024-W05)',
      '2024-01-30T02:00:00 remove: superseded in its ISO week 2024-W05 by 2024-02-01T02:00:00',
    ],
  },
  {
    name: 'unmarked backups name the last option that ran out and the periods already kept',
    keep: 'keep-hourly=1,keep-daily=2',
    backups: ['2024-05-02 10:00', '2024-05-02 09:00', '2024-05-01 08:00', '2024-04-30 08:00'],
    expected: [
      '2024-05-02T10:00:00 keep: keep-hourly 1/1 (2024-05-02T10)',
      '2024-05-02T09:00:00 remove: beyond keep-hourly 1; day 2024-05-02 already kept by 2024-05-02T10:00:00 (keep-hourly)',
      '2024-05-01T08:00:00 keep: keep-daily 1/2 (2024-05-01)',
      '2024-04-30T08:00:00 keep: keep-daily 2/2 (2024-04-30)',
    ],
  },
  {
    name: 'keep-last ids are unique per backup even at the same time',
    keep: 'keep-last=2,keep-daily=1',
    backups: ['2024-05-01 10:00', '2024-05-01 10:00', '2024-05-01 10:00'],
    expected: [
      '2024-05-01T10:00:00 keep: keep-last 1/2 (2024-05-01T10:00:00)',
      '2024-05-01T10:00:00 keep: keep-last 2/2 (2024-05-01T10:00:00)',
      '2024-05-01T10:00:00 remove: beyond keep-last 2; day 2024-05-01 already kept by 2024-05-01T10:00:00 (keep-last)',
    ],
  },
  {
    name: 'empty list',
    keep: 'keep-last=1',
    backups: [],
    expected: [],
  },
];

describe('computePrune (TZ=UTC)', () => {
  it('runs in UTC', () => {
    expect(new Date(at('2024-01-15T23:30:00Z') * 1000).getHours()).toBe(23);
  });

  it.each(cases)('$name', ({ keep, backups, expected }) => {
    expect(prune(keep, backups)).toEqual(expected);
    // The input order does not matter.
    expect(prune(keep, [...backups].reverse())).toEqual(expected);
  });

  it('reproduces the worked example of the reference (§6.2): 71 backups, 11 kept', () => {
    checkWorkedExample();
  });

  it('returns the backup times of the input, newest first', () => {
    const items = [{ 'backup-time': 5 }, { 'backup-time': 7, protected: true }, { 'backup-time': 6, finished: true }];
    expect(computePrune(items, { 'keep-last': 1 })).toEqual([
      { 'backup-time': 7, mark: 'protected', reason: 'protected' },
      { 'backup-time': 6, mark: 'keep', reason: 'keep-last 1/1 (1970-01-01T00:00:06)' },
      { 'backup-time': 5, mark: 'remove', reason: 'beyond keep-last 1' },
    ]);
  });

  it('rejects invalid options and times', () => {
    expect(() => computePrune([], { 'keep-daily': -1 })).toThrow(/keep-daily/);
    expect(() => computePrune([], parseKeepOptions('keep-daily=1'))).not.toThrow();
    let caught: unknown;
    try {
      computePrune([{ 'backup-time': 1 }, { 'backup-time': Number.NaN }], { 'keep-last': 1 });
    } catch (err) {
      caught = err;
    }
    expect(isGuestvaultError(caught, 'E_INPUT_INVALID')).toBe(true);
    expect((caught as Error).message).toContain('item 1');
  });
});

describe('periods', () => {
  it.each([
    ['2015-12-31', '2015-W53'], ['2016-01-03', '2015-W53'], ['2016-01-04', '2016-W01'],
    ['2008-12-29', '2009-W01'], ['2010-01-03', '2009-W53'], ['2026-11-25', '2026-W48'],
    ['2024-12-29', '2024-W52'], ['2024-12-30', '2025-W01'], ['2026-12-31', '2026-W53'],
    ['2027-01-01', '2026-W53'], ['2024-03-03', '2024-W09'], ['2024-03-04', '2024-W10'],
  ])('ISO week of %s is %s', (date, week) => {
    const [y, m, d] = date.split('-').map(Number) as [number, number, number];
    const w = isoWeek(y, m - 1, d);
    expect(`${w.year}-W${String(w.week).padStart(2, '0')}`).toBe(week);
    expect(periodId('ISO week', at(`${date} 12:00`))).toBe(week);
  });

  it('formats every period kind', () => {
    const t = at('2026-11-25 23:04:05');
    expect(['backup', 'hour', 'day', 'ISO week', 'month', 'year'].map((k) => periodId(k as never, t)))
      .toEqual(['2026-11-25T23:04:05', '2026-11-25T23', '2026-11-25', '2026-W48', '2026-11', '2026']);
  });
});
