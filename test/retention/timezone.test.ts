// Periods are local: this whole file runs in Vienna (CET/CEST). Set before any Date is used;
// vitest runs every test file in its own process, and Node re-reads TZ when it is assigned.
process.env.TZ = 'Europe/Vienna';

import { describe, expect, it } from 'vitest';
import { formatLocalTime, periodId } from '../../src/retention/index.js';
import { at, checkWorkedExample, prune } from './helpers.js';

const cases: Array<{ name: string; keep: string; backups: string[]; expected: string[] }> = [
  {
    name: 'a backup at 23:30 UTC belongs to the next local day',
    keep: 'keep-daily=1',
    backups: ['2024-01-15T22:30:00Z', '2024-01-15T23:30:00Z'],
    expected: [
      '2024-01-16T00:30:00 keep: keep-daily 1/1 (2024-01-16)',
      '2024-01-15T23:30:00 remove: beyond keep-daily 1',
    ],
  },
  {
    name: 'Sunday 23:30 UTC is Monday in Vienna: a new ISO week',
    keep: 'keep-weekly=1',
    backups: ['2024-01-07T22:30:00Z', '2024-01-07T23:30:00Z'],
    expected: [
      '2024-01-08T00:30:00 keep: keep-weekly 1/1 (2024-W02)',
      '2024-01-07T23:30:00 remove: beyond keep-weekly 1',
    ],
  },
  {
    name: 'New Year comes an hour earlier than in UTC',
    keep: 'keep-monthly=1,keep-yearly=1',
    backups: ['2024-12-31T22:30:00Z', '2024-12-31T23:30:00Z'],
    expected: [
      '2025-01-01T00:30:00 keep: keep-monthly 1/1 (2025-01)',
      '2024-12-31T23:30:00 keep: keep-yearly 1/1 (2024)',
    ],
  },
  {
    name: 'spring forward (2024-03-31 02:00 CET → 03:00 CEST): days',
    keep: 'keep-daily=2',
    backups: ['2024-03-30T23:30:00Z', '2024-03-31T00:30:00Z', '2024-03-31T01:30:00Z', '2024-03-31T21:59:00Z', '2024-03-31T22:30:00Z'],
    expected: [
      '2024-04-01T00:30:00 keep: keep-daily 1/2 (2024-04-01)',
      '2024-03-31T23:59:00 keep: keep-daily 2/2 (2024-03-31)',
      '2024-03-31T03:30:00 remove: superseded in its day 2024-03-31 by 2024-03-31T23:59:00',
      '2024-03-31T01:30:00 remove: superseded in its day 2024-03-31 by 2024-03-31T23:59:00',
      '2024-03-31T00:30:00 remove: superseded in its day 2024-03-31 by 2024-03-31T23:59:00',
    ],
  },
  {
    name: 'spring forward: 01:30 CET and 03:30 CEST are adjacent hours',
    keep: 'keep-hourly=4',
    backups: ['2024-03-31T00:30:00Z', '2024-03-31T01:30:00Z', '2024-03-31T02:30:00Z'],
    expected: [
      '2024-03-31T04:30:00 keep: keep-hourly 1/4 (2024-03-31T04)',
      '2024-03-31T03:30:00 keep: keep-hourly 2/4 (2024-03-31T03)',
      '2024-03-31T01:30:00 keep: keep-hourly 3/4 (2024-03-31T01)',
    ],
  },
  {
    name: 'fall back (2024-10-27 03:00 CEST → 02:00 CET): both 02:xx hours are one hourly period, as with strftime',
    keep: 'keep-hourly=3',
    backups: ['2024-10-26T21:30:00Z', '2024-10-26T22:30:00Z', '2024-10-27T00:15:00Z', '2024-10-27T00:45:00Z', '2024-10-27T01:15:00Z', '2024-10-27T01:45:00Z', '2024-10-27T02:15:00Z'],
    expected: [
      '2024-10-27T03:15:00 keep: keep-hourly 1/3 (2024-10-27T03)',
      '2024-10-27T02:45:00 keep: keep-hourly 2/3 (2024-10-27T02)', // CET
      '2024-10-27T02:15:00 remove: superseded in its hour 2024-10-27T02 by 2024-10-27T02:45:00', // CET
      '2024-10-27T02:45:00 remove: superseded in its hour 2024-10-27T02 by 2024-10-27T02:45:00', // CEST
      '2024-10-27T02:15:00 remove: superseded in its hour 2024-10-27T02 by 2024-10-27T02:45:00', // CEST
      '2024-10-27T00:30:00 keep: keep-hourly 3/3 (2024-10-27T00)',
      '2024-10-26T23:30:00 remove: beyond keep-hourly 3',
    ],
  },
  {
    name: 'fall back: the 25-hour day is one daily period',
    keep: 'keep-daily=1',
    backups: ['2024-10-26T21:30:00Z', '2024-10-26T22:30:00Z', '2024-10-27T00:45:00Z', '2024-10-27T01:45:00Z', '2024-10-27T22:59:00Z'],
    expected: [
      '2024-10-27T23:59:00 keep: keep-daily 1/1 (2024-10-27)',
      '2024-10-27T02:45:00 remove: superseded in its day 2024-10-27 by 2024-10-27T23:59:00',
      '2024-10-27T02:45:00 remove: superseded in its day 2024-10-27 by 2024-10-27T23:59:00',
      '2024-10-27T00:30:00 remove: superseded in its day 2024-10-27 by 2024-10-27T23:59:00',
      '2024-10-26T23:30:00 remove: beyond keep-daily 1',
    ],
  },
];

describe('computePrune in local time (TZ=Europe/Vienna)', () => {
  it('the time zone is in effect', () => {
    const t = Date.UTC(2024, 0, 15, 23, 30) / 1000;
    expect(new Date(t * 1000).getDate()).toBe(16);
    expect(new Date(t * 1000).getTimezoneOffset()).toBe(-60);
    expect(new Date(Date.UTC(2024, 6, 1) ).getTimezoneOffset()).toBe(-120);
    expect(periodId('day', t)).toBe('2024-01-16');
    expect(formatLocalTime(t)).toBe('2024-01-16T00:30:00');
    expect(at('2024-01-16 00:30')).toBe(t);
  });

  it.each(cases)('$name', ({ keep, backups, expected }) => {
    expect(prune(keep, backups)).toEqual(expected);
  });

  it('reproduces the worked example of the reference (§6.2) in local time', () => {
    checkWorkedExample();
  });
});
