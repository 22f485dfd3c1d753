import { expect } from 'vitest';
import { isGuestvaultError } from '../../src/errors.js';
import { computePrune, formatLocalTime, parseKeepOptions, type PruneItem } from '../../src/retention/index.js';

/**
 * Epoch seconds of a time written as local wall-clock time ("2024-03-10 14:00", seconds
 * optional) or, ending in Z, as UTC ("2024-03-30T23:30:00Z").
 */
export function at(text: string): number {
  if (text.endsWith('Z')) return Date.parse(text) / 1000;
  const m = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d)(?::(\d\d))?$/.exec(text);
  if (!m) throw new Error(`bad time in test data: ${text}`);
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number, number, number];
  return new Date(y, mo - 1, d, h, mi, s).getTime() / 1000;
}

/** A backup written as "<time>[ protected][ unfinished]". */
export function backup(spec: string): PruneItem {
  const words = spec.split(' ');
  const flags = new Set<string>();
  while (words.length > 1 && /^[a-z]+$/.test(words[words.length - 1]!)) flags.add(words.pop()!);
  const item: PruneItem = { 'backup-time': at(words.join(' ')) };
  if (flags.delete('protected')) item.protected = true;
  if (flags.delete('unfinished')) item.finished = false;
  if (flags.size) throw new Error(`bad flags in test data: ${spec}`);
  return item;
}

/** Prune and render every decision as "<local time> <mark>: <reason>" (newest first). */
export function prune(keep: string, backups: readonly string[]): string[] {
  return computePrune(backups.map(backup), parseKeepOptions(keep)).map((d) => `${formatLocalTime(d['backup-time'])} ${d.mark}: ${d.reason}`);
}

/** Daily backups at hh:mm from `from` to `to` (local dates, inclusive), as test specs. */
export function daily(from: string, to: string, hhmm = '02:00'): string[] {
  const out: string[] = [];
  const d = new Date(`${from}T00:00:00`);
  const end = new Date(`${to}T00:00:00`);
  while (d <= end) {
    out.push(`${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')} ${hhmm}`);
    d.setDate(d.getDate() + 1);
  }
  return out;
}

export function expectUsageError(fn: () => unknown, ...parts: string[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(isGuestvaultError(caught, 'E_USAGE'), `expected E_USAGE, got ${String(caught)}`).toBe(true);
  for (const p of parts) expect((caught as Error).message).toContain(p);
}

/** §6.2 worked example: daily at 02:00 from 2024-01-01 to 2024-03-10 plus 2024-03-10 14:00. */
export const workedExample = () => ({
  keep: 'keep-last=3,keep-daily=5,keep-weekly=2,keep-monthly=2',
  backups: [...daily('2024-01-01', '2024-03-10'), '2024-03-10 14:00'],
  kept: [
    '2024-03-10T14:00:00 keep: keep-last 1/3 (2024-03-10T14:00:00)',
    '2024-03-10T02:00:00 keep: keep-last 2/3 (2024-03-10T02:00:00)',
    '2024-03-09T02:00:00 keep: keep-last 3/3 (2024-03-09T02:00:00)',
    '2024-03-08T02:00:00 keep: keep-daily 1/5 (2024-03-08)',
    '2024-03-07T02:00:00 keep: keep-daily 2/5 (2024-03-07)',
    '2024-03-06T02:00:00 keep: keep-daily 3/5 (2024-03-06)',
    '2024-03-05T02:00:00 keep: keep-daily 4/5 (2024-03-05)',
    '2024-03-04T02:00:00 keep: keep-daily 5/5 (2024-03-04)',
    '2024-03-03T02:00:00 keep: keep-weekly 1/2 (2024-W09)',
    '2024-02-25T02:00:00 keep: keep-weekly 2/2 (2024-W08)',
    '2024-01-31T02:00:00 keep: keep-monthly 1/2 (2024-01)',
  ],
  someRemoved: [
    '2024-03-02T02:00:00 remove: superseded in its ISO week 2024-W09 by 2024-03-03T02:00:00',
    '2024-02-24T02:00:00 remove: superseded in its ISO week 2024-W08 by 2024-02-25T02:00:00',
    '2024-02-18T02:00:00 remove: beyond keep-weekly 2; month 2024-02 already kept by 2024-02-25T02:00:00 (keep-weekly)',
    '2024-02-01T02:00:00 remove: beyond keep-weekly 2; month 2024-02 already kept by 2024-02-25T02:00:00 (keep-weekly)',
    '2024-01-30T02:00:00 remove: superseded in its month 2024-01 by 2024-01-31T02:00:00',
    '2024-01-01T02:00:00 remove: superseded in its month 2024-01 by 2024-01-31T02:00:00',
  ],
});

export function checkWorkedExample(): void {
  const { keep, backups, kept, someRemoved } = workedExample();
  expect(backups).toHaveLength(71);
  const result = prune(keep, backups);
  expect(result).toHaveLength(71);
  expect(result.filter((r) => !r.includes(' remove: '))).toEqual(kept);
  for (const r of someRemoved) expect(result).toContain(r);
}
