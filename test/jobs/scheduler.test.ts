// Local time is Vienna for this file (set before any Date is used): the runs cross a DST change.
process.env.TZ = 'Europe/Vienna';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scheduler, makeJob, readJobState, saveJobs, writeJobState, type BackupJob, type RunResult } from '../../src/jobs/index.js';

/** Local wall-clock time in Vienna → epoch seconds. */
const at = (y: number, mo: number, d: number, h: number, mi = 0) => new Date(y, mo - 1, d, h, mi).getTime() / 1000;
const local = (t: number) => {
  const d = new Date(t * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
};

describe('the scheduler with a fake clock', () => {
  let home: string;
  let clock = 0;
  let runs: string[];
  let log: string[];
  const job = (id: string, props: Record<string, string>): BackupJob => makeJob(id, { 'host-backup': 'etc.tar:/etc', ...props });
  const scheduler = (run?: (j: BackupJob) => Promise<RunResult>) => new Scheduler({
    now: () => clock,
    run: run ?? (async (j) => {
      runs.push(`${j.id} ${local(clock)}`);
      return { upid: `UPID:test:${j.id}:${clock}`, status: 'OK' };
    }),
    log: (l) => log.push(l),
  });
  /** Tick once a minute from the current clock until `end`, letting started runs finish. */
  const runUntil = async (s: Scheduler, end: number) => {
    for (; clock <= end; clock += 60) {
      s.tick();
      await s.idle();
    }
  };

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'gv-sched-'));
    process.env.GUESTVAULT_HOME = home;
    runs = [];
    log = [];
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('runs the default jobs exactly at mon..fri 23:00 and sun 01:00 for two weeks across the DST change', async () => {
    expect(new Date(at(2026, 3, 23, 12) * 1000).getTimezoneOffset()).toBe(-60); // TZ took effect
    saveJobs([job('default-weekdays', { schedule: 'mon..fri 23:00' }), job('default-sunday', { schedule: 'sun 01:00' })]);
    clock = at(2026, 3, 23, 10); // Monday
    await runUntil(scheduler(), at(2026, 4, 6, 10));
    expect(runs).toEqual([
      'default-weekdays 2026-03-23 23:00', 'default-weekdays 2026-03-24 23:00', 'default-weekdays 2026-03-25 23:00',
      'default-weekdays 2026-03-26 23:00', 'default-weekdays 2026-03-27 23:00', 'default-sunday 2026-03-29 01:00',
      'default-weekdays 2026-03-30 23:00', 'default-weekdays 2026-03-31 23:00', 'default-weekdays 2026-04-01 23:00',
      'default-weekdays 2026-04-02 23:00', 'default-weekdays 2026-04-03 23:00', 'default-sunday 2026-04-05 01:00',
    ]);
    expect(readJobState('default-sunday').state).toMatchObject({ state: 'stopped', status: 'OK', 'last-start': at(2026, 4, 5, 1) });
  });

  it('skips missed runs at start without repeat-missed, and runs once with it', async () => {
    saveJobs([job('skip', { schedule: '23:00' }), job('catchup', { schedule: '23:00', 'repeat-missed': '1' })]);
    // Both last ran three days ago; the daemon was down since.
    for (const id of ['skip', 'catchup']) {
      writeJobState(id, { state: 'stopped', time: at(2026, 1, 1, 0), 'last-start': at(2026, 1, 9, 23), status: 'OK', config: { enabled: true, schedule: '23:00' } });
    }
    clock = at(2026, 1, 12, 9, 30);
    await runUntil(scheduler(), at(2026, 1, 13, 9, 30));
    expect(runs).toEqual(['catchup 2026-01-12 09:30', 'skip 2026-01-12 23:00', 'catchup 2026-01-12 23:00']);
  });

  it('treats a changed schedule as a fresh start, and never runs a job twice at once', async () => {
    saveJobs([job('edit', { schedule: '*:0/30' })]);
    clock = at(2026, 6, 1, 8, 1);
    const s = scheduler();
    await runUntil(s, at(2026, 6, 1, 9, 1));
    expect(runs).toEqual(['edit 2026-06-01 08:30', 'edit 2026-06-01 09:00']);
    saveJobs([job('edit', { schedule: '*:0/5' })]);
    runs = [];
    await runUntil(s, at(2026, 6, 1, 9, 11));
    expect(runs).toEqual(['edit 2026-06-01 09:05', 'edit 2026-06-01 09:10']);

    // A run that takes 12 minutes: no second start while it runs.
    runs = [];
    let release: (() => void) | undefined;
    let block = true;
    const slow = scheduler(async (j) => {
      runs.push(`${j.id} ${local(clock)}`);
      if (block) await new Promise<void>((r) => (release = r));
      return { upid: 'UPID:slow', status: 'OK' };
    });
    clock = at(2026, 6, 1, 9, 15);
    slow.tick(); // first tick of a new scheduler: missed runs skipped (repeat-missed 0)
    for (clock += 60; clock <= at(2026, 6, 1, 9, 27); clock += 60) slow.tick();
    expect(runs).toEqual(['edit 2026-06-01 09:20']);
    expect(readJobState('edit').state?.state).toBe('started');
    block = false;
    release!();
    await slow.idle();
    for (; clock <= at(2026, 6, 1, 9, 31); clock += 60) {
      slow.tick();
      await slow.idle();
    }
    expect(runs).toEqual(['edit 2026-06-01 09:20', 'edit 2026-06-01 09:28', 'edit 2026-06-01 09:30']);
  });

  it('keeps running valid jobs when jobs.cfg has an invalid one or a job state file is corrupt', async () => {
    mkdirSync(join(home, 'etc'), { recursive: true });
    writeFileSync(join(home, 'etc/jobs.cfg'), 'vzdump: good\n\tschedule 12:00\n\thost-backup etc.tar:/etc\n\nvzdump: bad\n\tschedule mon..fri 25:00\n\thost-backup etc.tar:/etc\n'
      + '\nvzdump: good\n\tschedule 13:00\n\thost-backup etc.tar:/etc\n');
    mkdirSync(join(home, 'jobs'), { recursive: true });
    writeFileSync(join(home, 'jobs/vzdump-good.json'), '{not json');
    clock = at(2026, 2, 2, 11, 58);
    await runUntil(scheduler(), at(2026, 2, 2, 12, 5));
    expect(runs).toEqual(['good 2026-02-02 12:00']);
    const warnings = log.filter((l) => l.startsWith('warning:'));
    expect(warnings.some((w) => w.includes('jobs.cfg:5') && w.includes("job 'bad'") && w.includes('25'))).toBe(true);
    expect(warnings.some((w) => w.includes('vzdump-good.json is corrupt'))).toBe(true);
    expect(warnings.some((w) => w.includes('jobs.cfg:9') && w.includes("duplicate section 'vzdump: good' (first at line 1)"))).toBe(true);
    expect(warnings.length).toBe(3); // each reported once, not every minute
  });
});
