import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { CliEnv } from '../helpers/cli.js';
import { MiB, ageChunks as ageStoreChunks, randomData, writeImage } from '../helpers/data.js';

interface Entry { snapshot: string; 'backup-time': number; mark: string; reason: string; removed: boolean }
interface Snap { snapshot: string; 'backup-time': number; protected: boolean; comment: string }
interface Gc { 'removed-chunks': number; 'pending-chunks': number; 'disk-chunks': number; 'dedup-factor': number; 'missing-chunks': number }

const DAY = 86400;
const T0 = Date.UTC(2026, 0, 1, 2, 0, 0) / 1000; // 2026-01-01 02:00 UTC

/** Prune, forget, protect, notes and garbage collection through the CLI (TZ=UTC for stable periods). */
describe('datastore upkeep', () => {
  const env = new CliEnv();
  const store = join(env.dir, 'store');
  const image = join(env.dir, 'disk.img');
  const utc = { TZ: 'UTC' };
  const gv = (args: string[]) => env.run(args, { env: utc });
  const gvJson = <T>(args: string[]) => env.json<T>(args, { env: utc });
  /** Rewrite the first MiB so each backup has one chunk of its own. */
  const change = (seed: number) => {
    const fd = openSync(image, 'r+');
    writeSync(fd, randomData(MiB, seed), 0, MiB, 0);
    closeSync(fd);
  };
  const backupAt = (id: string, time: number, seed: number) => {
    change(seed);
    return gvJson<{ snapshot: string }>(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', id, '--backup-time', String(time), `disk.img:${image}`]);
  };
  /** Make every chunk look unused for days, so only garbage collection's marking keeps it. */
  const ageChunks = () => ageStoreChunks(store);

  beforeAll(() => {
    writeImage(image, 6 * MiB, [['r', 2], ['t', 2], ['z', 2]]);
    expect(gv(['datastore', 'create', 'main', store]).code).toBe(0);
    for (let d = 0; d < 10; d++) backupAt('100', T0 + d * DAY, d + 1);
  });
  afterAll(() => env.cleanup());

  it('simulates with --dry-run and says why each snapshot stays or goes, changing nothing', () => {
    const entries = gvJson<Entry[]>(['prune', '--store', 'main', 'vm/100', '--keep-daily', '3', '--dry-run']);
    expect(entries.map((e) => e.mark)).toEqual(['keep', 'keep', 'keep', ...Array(7).fill('remove')]);
    expect(entries[0]!.reason).toMatch(/keep-daily 1\/3/);
    expect(entries[2]!.reason).toMatch(/keep-daily 3\/3/);
    expect(entries[3]!.reason).toMatch(/keep-daily/);
    expect(gvJson<Snap[]>(['snapshots', '--store', 'main', 'vm/100']).length).toBe(10);
  });

  it('protects, notes and forgets single snapshots', () => {
    const snaps = gvJson<Snap[]>(['snapshots', '--store', 'main', 'vm/100']);
    const oldest = snaps[0]!.snapshot;
    expect(gvJson<{ protected: boolean }>(['protect', '--store', 'main', oldest]).protected).toBe(true);
    expect(existsSync(join(store, oldest, '.protected'))).toBe(true);
    expect(gv(['notes', '--store', 'main', oldest, '--set', 'before the upgrade\nsecond line']).code).toBe(0);
    expect(gvJson<{ notes: string }>(['notes', '--store', 'main', oldest]).notes).toBe('before the upgrade\nsecond line');
    const listed = gvJson<Snap[]>(['snapshots', '--store', 'main', 'vm/100'])[0]!;
    expect(listed).toMatchObject({ protected: true, comment: 'before the upgrade' });

    const refused = gv(['forget', '--store', 'main', oldest]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is protected; remove the protection first/);
    expect(existsSync(join(store, oldest, 'index.json.blob'))).toBe(true);

    const second = snaps[1]!.snapshot;
    expect(gv(['forget', '--store', 'main', second]).code).toBe(0);
    expect(existsSync(join(store, second))).toBe(false);
    const again = gv(['forget', '--store', 'main', second]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('E_SNAPSHOT_UNKNOWN');
  });

  it('prunes by the keep rules, never a protected snapshot, and uses the datastore default', () => {
    const entries = gvJson<Entry[]>(['prune', '--store', 'main', 'vm/100', '--keep-daily', '3']);
    expect(entries.filter((e) => e.mark === 'keep').length).toBe(3);
    const prot = entries.find((e) => e.mark === 'protected')!;
    expect(prot.removed).toBe(false);
    const left = gvJson<Snap[]>(['snapshots', '--store', 'main', 'vm/100']);
    expect(left.map((s) => s['backup-time'])).toEqual([T0, T0 + 7 * DAY, T0 + 8 * DAY, T0 + 9 * DAY]);

    expect(gv(['datastore', 'update', 'main', '--prune-backups', 'keep-last=2']).code).toBe(0);
    expect(readFileSync(join(env.home, 'etc/datastore.cfg'), 'utf8')).toContain('\tprune-backups keep-last=2');
    gvJson<Entry[]>(['prune', '--store', 'main', 'vm/100']);
    expect(gvJson<Snap[]>(['snapshots', '--store', 'main', 'vm/100']).map((s) => s['backup-time'])).toEqual([T0, T0 + 8 * DAY, T0 + 9 * DAY]);
  });

  it('rejects bad keep options and unknown groups, changing nothing', () => {
    for (const bad of [['--keep-daily', '-1'], ['--keep-daily', 'x'], ['--keep-last', '1.5']]) {
      const r = gv(['prune', '--store', 'main', 'vm/100', ...bad]);
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.stderr).toContain(bad[0]!.slice(2));
    }
    const unknown = gv(['prune', '--store', 'main', 'vm/999', '--keep-last', '1']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/backup group vm\/999 does not exist/);
    expect(gv(['datastore', 'update', 'main', '--prune-backups', 'keep-daily=-3']).code).toBe(2);
    expect(gvJson<Snap[]>(['snapshots', '--store', 'main', 'vm/100']).length).toBe(3);
  });

  it('garbage-collects chunks of removed snapshots and keeps every chunk still in use', () => {
    ageChunks();
    const first = gvJson<Gc>(['gc', '--store', 'main']);
    expect(first['removed-chunks']).toBeGreaterThanOrEqual(6); // one own chunk per pruned snapshot
    expect(first['missing-chunks']).toBe(0);
    expect(first['dedup-factor']).toBeGreaterThan(1);
    const status = JSON.parse(readFileSync(join(store, '.gc-status'), 'utf8'));
    expect(status['removed-chunks']).toBe(first['removed-chunks']);
    expect(gv(['verify', '--store', 'main']).code).toBe(0);
    // Forgotten now, but inside the grace period: pending, not removed.
    const snaps = gvJson<Snap[]>(['snapshots', '--store', 'main', 'vm/100']);
    expect(gv(['forget', '--store', 'main', snaps[1]!.snapshot]).code).toBe(0);
    const second = gvJson<Gc>(['gc', '--store', 'main']);
    expect(second['removed-chunks']).toBe(0);
    expect(second['pending-chunks']).toBeGreaterThanOrEqual(1);
    expect(gv(['verify', '--store', 'main']).code).toBe(0);
  });

  it('never breaks a running backup: its base is kept by prune and refused by forget, and GC keeps what it writes', async () => {
    const big = writeImage(join(env.dir, 'big.img'), 64 * MiB, [['r', 4], ['t', 4]]);
    expect(gv(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '200', `disk.img:${big}`]).code).toBe(0);
    const base = gvJson<Snap[]>(['snapshots', '--store', 'main', 'vm/200'])[0]!.snapshot;
    // New content, and a lot of it, so the next backup runs long enough to be caught running.
    writeImage(big, 480 * MiB, [['r', 4]], 4242);
    const child = env.spawn(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '200', '--no-skip-unchanged', `disk.img:${big}`], { env: utc });
    const lock = join(store, '.locks/vm/200.lck');
    for (let i = 0; i < 400 && !(existsSync(lock) && readFileSync(lock, 'utf8').includes('base')); i++) await new Promise((r) => setTimeout(r, 10));
    const forget = gv(['forget', '--store', 'main', base]);
    expect(forget.code).toBe(1);
    expect(forget.stderr).toMatch(/is the base of the running backup of vm\/200/);
    // The snapshot being written is unfinished and the newest: kept as a partial backup.
    const pruned = gvJson<Entry[]>(['prune', '--store', 'main', 'vm/200', '--keep-last', '1']);
    expect(pruned[0]!.mark).toBe('keep-partial');
    expect(pruned.find((e) => e.snapshot === base)!.removed).toBe(false);
    ageChunks();
    const gc = gvJson<Gc>(['gc', '--store', 'main']);
    expect(gc['missing-chunks']).toBe(0);
    const code = await new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.on('exit', r)));
    expect(code).toBe(0);
    expect(gv(['verify', '--store', 'main']).code).toBe(0);
  });

  it('reports a read-only datastore clearly and changes nothing', () => {
    const mnt = join(env.dir, 'ro');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mnt]);
    try {
      expect(gv(['datastore', 'create', 'ro', join(mnt, 'ds')]).code).toBe(0);
      const snap = gvJson<{ snapshot: string }>(['backup', '--store', 'ro', '--backup-type', 'host', '--backup-id', 'x', `disk.img:${image}`]).snapshot;
      execFileSync('mount', ['-o', 'remount,ro', mnt]);
      for (const args of [['forget', '--store', 'ro', snap], ['prune', '--store', 'ro', 'host/x', '--keep-last', '1'], ['gc', '--store', 'ro'], ['protect', '--store', 'ro', snap]]) {
        const r = gv(args);
        expect(r.code, args.join(' ')).toBe(1);
        expect(r.stderr, args.join(' ')).toMatch(/read-only/);
      }
      expect(gvJson<Snap[]>(['snapshots', '--store', 'ro']).map((s) => s.snapshot)).toEqual([snap]);
    } finally {
      execFileSync('umount', ['-l', mnt]);
    }
  });
});
