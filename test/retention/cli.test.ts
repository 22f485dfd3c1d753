// Local times in the text output are checked, so fix the zone.
process.env.TZ = 'UTC';

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand, type CommandRun } from '../helpers/run-command.js';
import { addKeepOptionFlags, keepOptionsFromFlags } from '../../src/cli/keep-options.js';
import { retentionCommand } from '../../src/cli/commands/retention.js';
import { isGuestvaultError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'gv-retention-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

type Run = CommandRun;

/** Run `guestvault retention ARGS` on a fresh command object, capturing its output. */
function run(args: string[], stdin?: string): Promise<Run> {
  return runCommand(retentionCommand(), args, stdin);
}

function expectError(r: Run, code: string, ...parts: string[]): void {
  expect(isGuestvaultError(r.error, code), `expected ${code}, got ${String(r.error)}`).toBe(true);
  for (const p of parts) expect((r.error as Error).message).toContain(p);
}

// 2026-11-22 (Sun) … 2026-11-25 (Wed) at 23:00 UTC, plus a protected one and a running backup.
const T = (d: number, h = 23) => Date.UTC(2026, 10, d, h) / 1000;
const BACKUPS = [
  { 'backup-time': T(22) },
  { 'backup-time': T(23), protected: true },
  { 'backup-time': T(24) },
  { 'backup-time': T(25, 22) },
  { 'backup-time': T(25) },
  { 'backup-time': T(26, 1), finished: false },
];
const INPUT = file('backups.json', JSON.stringify(BACKUPS));

const EXPECTED = [
  { 'backup-time': T(26, 1), mark: 'keep-partial', reason: 'newest snapshot is unfinished: a backup may be running' },
  { 'backup-time': T(25), mark: 'keep', reason: 'keep-daily 1/2 (2026-11-25)' },
  { 'backup-time': T(25, 22), mark: 'remove', reason: 'superseded in its day 2026-11-25 by 2026-11-25T23:00:00' },
  { 'backup-time': T(24), mark: 'keep', reason: 'keep-daily 2/2 (2026-11-24)' },
  { 'backup-time': T(23), mark: 'protected', reason: 'protected' },
  { 'backup-time': T(22), mark: 'remove', reason: 'beyond keep-daily 2' },
];

describe('guestvault retention simulate', () => {
  it('prints JSON newest first', async () => {
    const r = await run(['simulate', '--keep-daily', '2', '--input', INPUT, '--output-format', 'json']);
    expect(r.error).toBeUndefined();
    expect(JSON.parse(r.stdout)).toEqual(EXPECTED);
  });

  it('accepts the keep options as a property string', async () => {
    const r = await run(['simulate', '--prune-backups', 'keep-daily=2', '--input', INPUT, '--output-format', 'json']);
    expect(JSON.parse(r.stdout)).toEqual(EXPECTED);
  });

  it('prints a table in local time and a summary', async () => {
    const r = await run(['simulate', '--keep-daily', '2', '--input', INPUT]);
    expect(r.error).toBeUndefined();
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^backup-time \(local\)\s+mark\s+reason$/);
    expect(lines[1]).toMatch(/^2026-11-26 01:00:00\s+keep-partial\s+newest snapshot is unfinished: a backup may be running$/);
    expect(lines[3]).toMatch(/^2026-11-25 22:00:00\s+remove\s+superseded in its day 2026-11-25 by 2026-11-25T23:00:00$/);
    expect(lines[5]).toMatch(/^2026-11-23 23:00:00\s+protected\s+protected$/);
    expect(lines).toHaveLength(8);
    expect(lines[7]).toBe('3 kept (1 unfinished), 2 removed, 1 protected (keep-daily=2)');
  });

  it('keeps everything without keep options', async () => {
    const r = await run(['simulate', '--input', INPUT, '--output-format', 'json']);
    const out = JSON.parse(r.stdout) as Array<{ mark: string; reason: string }>;
    expect(out.map((d) => d.mark)).toEqual(['keep', 'keep', 'keep', 'keep', 'protected', 'keep']);
    expect(out[0]!.reason).toBe('no keep option set: everything is kept');
    const all = await run(['simulate', '--keep-all', '--input', INPUT, '--output-format', 'json']);
    expect((JSON.parse(all.stdout) as Array<{ reason: string }>)[0]!.reason).toBe('keep-all');
  });

  it('reads standard input for -', async () => {
    const r = await run(['simulate', '--keep-daily', '2', '--input', '-', '--output-format', 'json'], JSON.stringify(BACKUPS));
    expect(r.error).toBeUndefined();
    expect(JSON.parse(r.stdout)).toEqual(EXPECTED);
  });

  it('ignores unknown fields (snapshots --output-format json can be piped in)', async () => {
    const path = file('snapshots.json', JSON.stringify([{ snapshot: 'vm/100/x', 'backup-time': T(1), protected: false, size: 5 }]));
    const r = await run(['simulate', '--keep-last', '1', '--input', path, '--output-format', 'json']);
    expect(JSON.parse(r.stdout)).toEqual([{ 'backup-time': T(1), mark: 'keep', reason: 'keep-last 1/1 (2026-11-01T23:00:00)' }]);
  });

  it.each<{ name: string; content: string; mentions: string[] }>([
    { name: 'not-json.json', content: '[{"backup-time": 1,}', mentions: ['not valid JSON'] },
    { name: 'object.json', content: '{"backup-time": 1}', mentions: ['expected a JSON array'] },
    { name: 'no-time.json', content: '[{"backup-time": 1}, {"protected": true}]', mentions: ['entry 1', '"backup-time"'] },
    { name: 'string-time.json', content: '[{"backup-time": "2026-11-25"}]', mentions: ['entry 0', '"backup-time"', '"2026-11-25"'] },
    { name: 'fraction.json', content: '[{"backup-time": 1}, {"backup-time": 2}, {"backup-time": 2.5}]', mentions: ['entry 2', '2.5'] },
    { name: 'flag.json', content: '[{"backup-time": 1, "protected": "yes"}]', mentions: ['entry 0', '"protected"', '"yes"'] },
    { name: 'finished.json', content: '[{"backup-time": 1, "finished": 0}]', mentions: ['entry 0', '"finished"'] },
    { name: 'entry.json', content: '[1]', mentions: ['entry 0', 'expected an object'] },
    { name: 'dup.json', content: '[{"backup-time": 1}, {"backup-time": 1}]', mentions: ['entry 1', 'entry 0'] },
  ])('rejects bad input $name naming the file and the entry', async ({ name, content, mentions }) => {
    const path = file(name, content);
    const r = await run(['simulate', '--keep-last', '1', '--input', path]);
    expectError(r, 'E_INPUT_INVALID', path, ...mentions);
    expect(r.stdout).toBe('');
  });

  it('reports a missing input file', async () => {
    const r = await run(['simulate', '--keep-last', '1', '--input', join(dir, 'missing.json')]);
    expectError(r, 'E_INPUT_READ', 'missing.json', 'ENOENT');
  });

  it.each<{ flags: string[]; mentions: string[] }>([
    { flags: ['--keep-daily', '-1'], mentions: ['--keep-daily', "'-1'"] },
    { flags: ['--keep-weekly', 'x'], mentions: ['--keep-weekly', "'x'"] },
    { flags: ['--keep-monthly', '1.5'], mentions: ['--keep-monthly', "'1.5'"] },
    { flags: ['--keep-last=3', '--keep-last=4'], mentions: ['--keep-last', 'more than once'] },
    { flags: ['--keep-all', '--keep-daily', '3'], mentions: ['keep-all cannot be set together with other options'] },
    { flags: ['--keep-daily', '3', '--prune-backups', 'keep-last=1'], mentions: ['--prune-backups'] },
    { flags: ['--prune-backups', 'keep-daily=three'], mentions: ['keep-daily', "'three'"] },
  ])('rejects keep options $flags', async ({ flags, mentions }) => {
    const r = await run(['simulate', ...flags, '--input', INPUT]);
    expectError(r, 'E_USAGE', ...mentions);
  });

  it('requires --input', async () => {
    const r = await run(['simulate', '--keep-last', '1']);
    expect(r.error).toBeInstanceOf(CommanderError);
    expect(r.stderr).toContain('--input');
  });

  it('has help', async () => {
    const r = await run(['simulate', '--help']);
    expect((r.error as CommanderError).code).toBe('commander.helpDisplayed');
    for (const s of ['--keep-all', '--keep-last <N>', '--keep-yearly <N>', '--input <file>', '--prune-backups', '--output-format', 'backup-time', 'local time']) {
      expect(r.stdout).toContain(s);
    }
    const top = await run(['--help']);
    expect(top.stdout).toContain('simulate');
    expect(top.stdout).toContain('check');
  });
});

describe('guestvault retention check', () => {
  it.each([
    ['keep-monthly=1, keep-daily=3,keep-weekly=2', 'keep-daily=3,keep-weekly=2,keep-monthly=1'],
    ['keep-all=1', 'keep-all=1'],
    ['keep-last=0,keep-yearly=2', 'keep-yearly=2'],
  ])('prints the canonical form of %s', async (spec, canonical) => {
    const r = await run(['check', spec]);
    expect(r.error).toBeUndefined();
    expect(r.stdout).toBe(`${canonical}\n`);
  });

  it('notes on stderr when nothing would be pruned', async () => {
    const r = await run(['check', '']);
    expect(r.stdout).toBe('\n');
    expect(r.stderr).toContain('keep every backup');
  });

  it('prints the parsed object as JSON', async () => {
    const r = await run(['check', 'keep-weekly=2,keep-last=0', '--output-format', 'json']);
    expect(r.stdout).toBe('{"keep-last":0,"keep-weekly":2}\n');
  });

  it.each([
    ['keep-daily=-1', 'keep-daily', "'-1'"],
    ['keep-hourly=2,keep-hourly=3', 'duplicate', 'keep-hourly'],
    ['keep-minutely=5', 'keep-minutely'],
    ['keep-all=1,keep-last=1', 'keep-all cannot be set together with other options'],
  ])('rejects %s', async (spec, ...mentions) => {
    expectError(await run(['check', spec]), 'E_USAGE', ...mentions);
  });
});

describe('keep option flags', () => {
  const parse = (args: string[]) => {
    const cmd = addKeepOptionFlags(new Command('x')).exitOverride();
    cmd.parse(args, { from: 'user' });
    return keepOptionsFromFlags(cmd.opts());
  };

  it('gives undefined without flags, so callers can fall back', () => {
    expect(parse([])).toBeUndefined();
    expect(keepOptionsFromFlags({ store: 'local' })).toBeUndefined();
  });

  it('collects the flags in canonical order', () => {
    expect(parse(['--keep-yearly', '1', '--keep-daily', '3'])).toEqual({ 'keep-daily': 3, 'keep-yearly': 1 });
    expect(Object.keys(parse(['--keep-yearly', '1', '--keep-last', '3'])!)).toEqual(['keep-last', 'keep-yearly']);
    expect(parse(['--keep-all'])).toEqual({ 'keep-all': true });
    expect(parse(['--keep-all', '--keep-daily', '0'])).toEqual({ 'keep-all': true, 'keep-daily': 0 });
    expect(parse(['--keep-hourly', '0'])).toEqual({ 'keep-hourly': 0 });
    expect(parse(['--keep-weekly=007'])).toEqual({ 'keep-weekly': 7 });
  });

  it.each([['-1'], ['x'], ['1.5'], [''], ['0x10'], ['1e2']])('rejects --keep-daily %j', (value) => {
    let caught: unknown;
    try {
      parse(['--keep-daily', value]);
    } catch (err) {
      caught = err;
    }
    expect(isGuestvaultError(caught, 'E_USAGE'), String(caught)).toBe(true);
    expect((caught as Error).message).toContain('--keep-daily');
    expect((caught as Error).message).toContain(`'${value}'`);
  });
});
