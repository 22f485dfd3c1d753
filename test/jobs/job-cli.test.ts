import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CliEnv } from '../helpers/cli.js';

interface JobRow { id: string; schedule: string; storage?: string; 'prune-backups'?: string; 'next-run': number | null; 'last-status': string | null; all?: boolean }
interface Snap { snapshot: string; comment: string }

describe('backup jobs through the CLI', () => {
  const env = new CliEnv();
  const node = { GUESTVAULT_NODE: 'pve1' };
  const gv = (args: string[]) => env.run(args, { env: node });
  const src = join(env.dir, 'src');

  beforeAll(() => {
    mkdirSync(join(src, 'conf'), { recursive: true });
    writeFileSync(join(src, 'conf/app.conf'), 'port 80\n');
    expect(gv(['init']).code).toBe(0);
  });
  afterAll(() => env.cleanup());

  it('creates the default jobs on a fresh installation, in Proxmox jobs.cfg style', () => {
    const jobs = env.json<JobRow[]>(['job', 'list'], { env: node });
    expect(jobs.map((j) => [j.id, j.schedule, j.storage, j['prune-backups'], j.all])).toEqual([
      ['default-weekdays', 'mon..fri 23:00', 'local-store', 'keep-daily=3,keep-weekly=2,keep-monthly=1', true],
      ['default-sunday', 'sun 01:00', 'local-store', 'keep-daily=3,keep-weekly=2,keep-monthly=1', true],
    ]);
    for (const j of jobs) expect(j['next-run']).toBeGreaterThan(Date.now() / 1000);
    const cfg = readFileSync(join(env.home, 'etc/jobs.cfg'), 'utf8');
    expect(cfg.startsWith('vzdump: default-weekdays\n\tschedule mon..fri 23:00\n\tall 1\n\tcomment ')).toBe(true);
    expect(cfg).toContain('\n\nvzdump: default-sunday\n\tschedule sun 01:00\n');
  });

  it('runs a job now as a task: backup, notes, prune, state, log', () => {
    expect(gv(['job', 'create', 'hostly', '--schedule', '*:0/15', '--storage', 'local-store', '--host-backup', `conf.tar:${src}`,
      '--notes-template', '{{guestname}} on {{node}}', '--prune-backups', 'keep-last=2']).code).toBe(0);
    for (let i = 0; i < 3; i++) {
      const r = gv(['job', 'run-now', 'hostly']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/TASK OK\n$/);
      expect(r.stdout).toContain('host/pve1: snapshot host/pve1/');
    }
    const snaps = env.json<Snap[]>(['snapshots', '--store', 'local', 'host/pve1']);
    expect(snaps.length).toBe(2); // pruned to keep-last=2 after each run
    expect(snaps[1]!.comment).toBe('pve1 on pve1');
    const row = env.json<JobRow[]>(['job', 'list'], { env: node }).find((j) => j.id === 'hostly')!;
    expect(row['last-status']).toBe('OK');
    const state = JSON.parse(readFileSync(join(env.home, 'jobs/vzdump-hostly.json'), 'utf8'));
    const log = readFileSync(join(env.home, 'tasks', state.upid.split(':')[5].slice(-1), state.upid), 'utf8');
    expect(log).toMatch(/prune older backups with retention keep-last=2: 1 of 3 snapshot\(s\) removed/);
    expect(log).toMatch(/host\/pve1: conf\.tar: .* in \d+ chunks \(\d+ new, \d+ reused, \d+ zero\)/);
    expect(log).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} starting job hostly/m);
    expect(log.trimEnd().split('\n').at(-1)).toBe('TASK OK');
  });

  it('goes on with the other guests when one fails, and reports the job as failed', () => {
    const badId = gv(['job', 'create', 'mixed', '--schedule', 'daily', '--vmid', 'abc']);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toMatch(/vmid: invalid guest id 'abc'/);
    expect(gv(['job', 'create', 'mixed', '--schedule', 'daily', '--vmid', '999', '--host-backup', `conf.tar:${src}`]).code).toBe(0);
    const before = env.json<Snap[]>(['snapshots', '--store', 'local', 'host/pve1']).at(-1)!.snapshot;
    const r = gv(['job', 'run-now', 'mixed']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/guest 999: unknown guest on node pve1/);
    expect(r.stdout).toMatch(/TASK ERROR: job errors/);
    // The host backup of the same job was still made (and pruned by the datastore's default
    // retention, keep-daily=3,…: one snapshot per day remains, the new one).
    const after = env.json<Snap[]>(['snapshots', '--store', 'local', 'host/pve1']);
    expect(after.at(-1)!.snapshot > before).toBe(true);
    expect(r.stdout).toMatch(/prune older backups with retention keep-daily=3,keep-weekly=2,keep-monthly=1/);
    expect(env.json<JobRow[]>(['job', 'list'], { env: node }).find((j) => j.id === 'mixed')!['last-status']).toMatch(/job errors/);
  });

  it('waits for a running backup of the same guest (lockwait) instead of failing', async () => {
    const big = join(env.dir, 'big.img');
    writeFileSync(big, Buffer.alloc(0));
    const fd = openSync(big, 'w');
    for (let i = 0; i < 24; i++) writeSync(fd, randomBytes(8 * 1024 * 1024));
    closeSync(fd);
    const first = env.spawn(['backup', '--store', 'local', '--backup-type', 'host', '--backup-id', 'pve1', `big.img:${big}`]);
    const lock = join(env.home, 'datastores/local/.locks/host/pve1.lck');
    for (let i = 0; i < 400 && !existsSync(lock); i++) await new Promise((r) => setTimeout(r, 10));
    expect(existsSync(lock)).toBe(true);
    const r = gv(['job', 'run-now', 'hostly']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/TASK OK/);
    expect(await new Promise((res) => (first.exitCode !== null ? res(first.exitCode) : first.on('exit', res)))).toBe(0);
  });

  it('rejects bad jobs with clear messages and changes nothing', () => {
    const before = readFileSync(join(env.home, 'etc/jobs.cfg'), 'utf8');
    const dup = gv(['job', 'create', 'hostly', '--schedule', 'daily', '--all', '1']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/job 'hostly' already exists/);
    const badStorage = gv(['job', 'create', 'x', '--schedule', 'daily', '--all', '1', '--storage', 'nosuch']);
    expect(badStorage.code).toBe(2);
    expect(badStorage.stderr).toMatch(/unknown storage 'nosuch'/);
    const badSchedule = gv(['job', 'create', 'x', '--schedule', 'mon..fri 25:00', '--all', '1']);
    expect(badSchedule.code).toBe(2);
    expect(badSchedule.stderr).toMatch(/schedule: .*25/);
    const badKey = gv(['job', 'update', 'hostly', '--mode', 'fast']);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/mode: expected one of snapshot, suspend, stop, not 'fast'/);
    expect(readFileSync(join(env.home, 'etc/jobs.cfg'), 'utf8')).toBe(before);
    expect(gv(['job', 'show', 'nosuch']).code).toBe(1);
  });
});
