// Local times in the text output are checked, so fix the zone (set before any Date is used).
process.env.TZ = 'Europe/Vienna';

import { describe, expect, it } from 'vitest';
import { runCommand, type CommandRun } from '../helpers/run-command.js';
import { calendarCommand } from '../../src/cli/commands/calendar.js';
import { isGuestvaultError } from '../../src/errors.js';
import { at } from './cases.js';

type Run = CommandRun;

/** Run `guestvault calendar ARGS` on a fresh command object, capturing its output. */
function run(...args: string[]): Promise<Run> {
  return runCommand(calendarCommand(), args);
}

function expectError(r: Run, code: string, message: string | RegExp): void {
  expect(isGuestvaultError(r.error, code), `expected ${code}, got ${String(r.error)}`).toBe(true);
  if (typeof message === 'string') expect((r.error as Error).message).toBe(message);
  else expect((r.error as Error).message).toMatch(message);
}

describe('guestvault calendar next', () => {
  it('prints RFC 3339 local times with offset, one per line', async () => {
    const r = await run('next', 'mon..fri 23:00', '--from', '2026-11-26T12:00:00Z', '--count', '3');
    expect(r.error).toBeUndefined();
    expect(r.stdout).toBe('2026-11-26T23:00:00+01:00\n2026-11-27T23:00:00+01:00\n2026-11-30T23:00:00+01:00\n');
  });

  it('prints epoch seconds as a JSON array', async () => {
    const r = await run('next', 'sun 01:00', '--from', String(at('2026-11-26T12:00:00Z')), '--count', '2', '--output-format', 'json');
    expect(JSON.parse(r.stdout)).toEqual([at('2026-11-29T01:00:00+01:00'), at('2026-12-06T01:00:00+01:00')]);
  });

  it('crosses the summer-time change with the right offsets', async () => {
    const r = await run('next', '*:0/30', '--from', '2026-03-29T01:00:00+01:00', '--count', '3');
    expect(r.stdout).toBe('2026-03-29T01:30:00+01:00\n2026-03-29T03:00:00+02:00\n2026-03-29T03:30:00+02:00\n');
  });

  it('a UTC event is still shown in local time', async () => {
    const r = await run('next', '02:30 UTC', '--from', '2026-11-26T12:00:00Z');
    expect(r.stdout).toBe('2026-11-27T03:30:00+01:00\n');
  });

  it('defaults: from now, one event', async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await run('next', '*:*:*', '--output-format', 'json');
    const events = JSON.parse(r.stdout) as number[];
    expect(events).toHaveLength(1);
    expect(events[0]).toBeGreaterThan(before);
    expect(events[0]).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 1);
  });

  it('no next event: empty JSON array; text prints nothing on stdout and says so on stderr', async () => {
    const json = await run('next', '2015-10-21', '--from', '2026-01-01T00:00:00Z', '--output-format', 'json');
    expect(json.error).toBeUndefined();
    expect(JSON.parse(json.stdout)).toEqual([]);
    const text = await run('next', '2015-10-21', '--from', '2026-01-01T00:00:00Z');
    expect(text.stdout).toBe('');
    expect(text.stderr).toContain("'2015-10-21' does not fire after 2026-01-01T01:00:00+01:00");
  });

  it('fewer events than --count when the event stops firing', async () => {
    const r = await run('next', '2027..2028-02-29', '--from', '2026-01-01T00:00:00Z', '--count', '5', '--output-format', 'json');
    expect(JSON.parse(r.stdout)).toEqual([at('2028-02-29T00:00:00+01:00')]);
  });

  it('accepts --from as RFC 3339 with offset, Z, a fraction, or negative epoch seconds', async () => {
    for (const from of ['2026-11-27T23:00:00+01:00', '2026-11-27T22:00:00Z', '2026-11-27t22:00:00.999z', '1795816800']) {
      const r = await run('next', 'hourly', '--from', from, '--output-format', 'json');
      expect(JSON.parse(r.stdout), from).toEqual([1_795_816_800 + 3600]);
    }
    for (const args of [['--from=-1'], ['--from', '-1']]) {
      const neg = await run('next', 'hourly', ...args, '--output-format', 'json');
      expect(JSON.parse(neg.stdout), args.join(' ')).toEqual([0]);
    }
  });

  it('an invalid SPEC is a calendar error', async () => {
    const r = await run('next', 'mon..fri 25:00');
    expectError(r, 'E_CALENDAR', '"mon..fri 25:00": hour 25 out of range 0..23');
    expect(r.stdout).toBe('');
  });

  it('bad --from or --count are usage errors', async () => {
    for (const from of ['yesterday', '2026-11-27T23:00:00', '2026-02-30T00:00:00Z', '2026-11-27T24:00:00Z', '1.5', '99999999999999']) {
      expectError(await run('next', 'daily', '--from', from), 'E_USAGE', /^--from must be seconds since the epoch or an RFC 3339 time/);
    }
    for (const count of ['0', '-1', 'x', '1.5', '10001']) {
      expectError(await run('next', 'daily', '--count', count), 'E_USAGE', `--count must be a whole number from 1 to 10000, not '${count}'`);
    }
  });
});

describe('guestvault calendar check', () => {
  it('prints the normalised form', async () => {
    const r = await run('check', 'mon..fri 23:00');
    expect(r.stdout).toBe('mon..fri *-*-* 23:00:00\n');
    expect((await run('check', 'weekly UTC')).stdout).toBe('mon *-*-* 00:00:00 UTC\n');
  });

  it('JSON: spec and normalized', async () => {
    const r = await run('check', 'sat *-1..7 15:00', '--output-format', 'json');
    expect(JSON.parse(r.stdout)).toEqual({ spec: 'sat *-1..7 15:00', normalized: 'sat *-*-01..07 15:00:00' });
  });

  it('an invalid SPEC is a calendar error', async () => {
    expectError(await run('check', 'mun 10:00'), 'E_CALENDAR', /^"mun 10:00": unknown weekday 'mun'/);
    expectError(await run('check', ''), 'E_CALENDAR', /^"": empty/);
  });

  it('a missing SPEC is a commander usage error', async () => {
    const r = await run('check');
    expect((r.error as { code?: string }).code).toBe('commander.missingArgument');
  });
});
