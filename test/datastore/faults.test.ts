import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliEnv } from '../helpers/cli.js';
import { MiB, writeImage } from '../helpers/data.js';
import { decodeFixedIndex } from '../../src/formats/index.js';

interface BackupResult { snapshot: string }

/** Exit code of a child (null when killed by a signal it did not handle), also if it has already exited. */
function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.on('exit', (code) => r(code)));
}
interface Snap { snapshot: string; verification: { state: string } | null }

/** Bad input and faults: each ends with a clear error, a non-zero exit, and a consistent datastore. */
describe('bad input and faults', () => {
  const env = new CliEnv();
  const store = join(env.dir, 'store');
  const image = join(env.dir, 'disk.img');
  let good: BackupResult;

  const backup = (...args: string[]) => env.run(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '100', ...args]);
  const verifyAllOk = () => {
    const r = env.run(['verify', '--store', 'main', '--output-format', 'json']);
    const res = JSON.parse(r.stdout) as { ok: boolean; snapshots: { snapshot: string; state: string }[] };
    expect(res.ok, r.stdout).toBe(true);
    expect(r.code).toBe(0);
    return res;
  };

  beforeAll(() => {
    writeImage(image, 12 * MiB, [['r', 3], ['t', 2], ['z', 1]]);
    expect(env.run(['datastore', 'create', 'main', store]).code).toBe(0);
    good = env.json<BackupResult>(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '100', `disk.img:${image}`]);
  });
  afterAll(() => env.cleanup());

  it('rejects wrong arguments with usage errors (exit 2)', () => {
    const noSpec = env.run(['backup', '--store', 'main', '--backup-id', '1']);
    expect(noSpec.code).toBe(2);
    expect(noSpec.stderr).toMatch(/missing required argument/);
    const badSpec = backup('disk:/x');
    expect(badSpec.code).toBe(2);
    expect(badSpec.stderr).toMatch(/invalid backup spec 'disk:\/x'/);
    const badType = env.run(['backup', '--store', 'main', '--backup-type', 'lxc', '--backup-id', '1', `d.img:${image}`]);
    expect(badType.code).toBe(2);
    expect(badType.stderr).toMatch(/invalid backup type 'lxc'/);
    expect(env.run(['frobnicate']).code).toBe(2);
    expect(env.run(['backup', '--help']).code).toBe(0);
  });

  it('reports a missing source or a source of the wrong kind, and writes nothing', () => {
    const missing = backup(`disk.img:${join(env.dir, 'nope.img')}`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`source ${join(env.dir, 'nope.img')} does not exist`);
    expect(missing.stderr).toContain('E_SOURCE_MISSING');
    const dir = backup(`disk.img:${env.dir}`);
    expect(dir.code).toBe(1);
    expect(dir.stderr).toContain('E_SOURCE_TYPE');
    const noDir = backup(`root.tar:${join(env.dir, 'nodir')}`);
    expect(noDir.stderr).toContain('E_SOURCE_MISSING');
    // Only the one good snapshot exists and no directory is left behind.
    expect(readdirSync(join(store, 'vm/100')).filter((n) => n !== 'owner')).toEqual([good.snapshot.split('/')[2]]);
  });

  it('names an unknown datastore, a path that is not a datastore, and an unknown snapshot', () => {
    const unknown = env.run(['snapshots', '--store', 'nosuch']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown datastore 'nosuch' \(known: main\)/);
    const fake = join(env.dir, 'not-a-store');
    mkdirSync(fake);
    appendFileSync(join(env.home, 'etc/datastore.cfg'), `\ndatastore: fake\n\tpath ${fake}\n`);
    const notStore = env.run(['snapshots', '--store', 'fake']);
    expect(notStore.code).toBe(1);
    expect(notStore.stderr).toContain('E_NOT_A_DATASTORE');
    const noSnap = env.run(['restore', '--store', 'main', 'vm/100/2001-01-01T00:00:00Z', 'disk.img', join(env.dir, 'x.img')]);
    expect(noSnap.code).toBe(1);
    expect(noSnap.stderr).toMatch(/snapshot vm\/100\/2001-01-01T00:00:00Z does not exist/);
    const noArchive = env.run(['restore', '--store', 'main', good.snapshot, 'other.img', join(env.dir, 'x.img')]);
    expect(noArchive.stderr).toMatch(/has no archive 'other.img' \(it has: disk.img\)/);
  });

  it('refuses a second backup of a group while one runs', async () => {
    const big = join(env.dir, 'big.img');
    writeImage(big, 200 * MiB, [['r', 8]]);
    const child = env.spawn(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '100', '--no-skip-unchanged', `disk.img:${big}`]);
    const lock = join(store, '.locks/vm/100.lck');
    for (let i = 0; i < 200 && !existsSync(lock); i++) await new Promise((r) => setTimeout(r, 25));
    const second = backup(`disk.img:${image}`);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/backup group vm\/100 is locked: backup of vm\/100 is running \(pid \d+/);
    expect(await exited(child)).toBe(0);
  });

  it('survives SIGKILL in the middle of a backup: the leftover is removed and reported', async () => {
    // Data the datastore has not seen: every chunk is compressed and written, so the backup is still
    // busy when it is killed (chunks it already holds would only be hashed, done in a blink).
    const big = writeImage(join(env.dir, 'kill.img'), 256 * MiB, [['r', 8]], 101);
    const child = env.spawn(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '100', '--no-skip-unchanged', `disk.img:${big}`]);
    // Wait until the snapshot directory exists and chunks are being written, then kill.
    const before = new Set(readdirSync(join(store, 'vm/100')));
    let fresh: string | undefined;
    for (let i = 0; i < 400 && !fresh; i++) {
      await new Promise((r) => setTimeout(r, 10));
      fresh = readdirSync(join(store, 'vm/100')).find((n) => !before.has(n));
    }
    expect(fresh).toBeDefined();
    await new Promise((r) => setTimeout(r, 150));
    child.kill('SIGKILL');
    expect(await exited(child)).toBe(null);
    expect(existsSync(join(store, 'vm/100', fresh!))).toBe(true);
    expect(existsSync(join(store, 'vm/100', fresh!, 'index.json.blob'))).toBe(false);

    const list = env.run(['snapshots', '--store', 'main', '--output-format', 'json']);
    expect(list.code).toBe(0);
    expect(list.stderr).toContain(`removed leftover of an interrupted backup: vm/100/${fresh}`);
    expect((JSON.parse(list.stdout) as Snap[]).map((s) => s.snapshot)).not.toContain(`vm/100/${fresh}`);
    expect(existsSync(join(store, 'vm/100', fresh!))).toBe(false);
    verifyAllOk();
    // The dead backup's lock does not block the next one.
    const next = backup(`disk.img:${image}`);
    expect(next.code, next.stderr).toBe(0);
  });

  it('cleans up at once when a backup is stopped with SIGTERM', async () => {
    // Fresh data (see the SIGKILL test), and the signal goes out once the backup has said which
    // snapshot it builds on: that note comes after the signal handlers are in place.
    const big = writeImage(join(env.dir, 'term.img'), 256 * MiB, [['r', 8]], 202);
    const child = env.spawn(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '100', '--no-skip-unchanged', `disk.img:${big}`]);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lock = join(store, '.locks/vm/100.lck');
    for (let i = 0; i < 1000 && !stderr.includes('previous snapshot:'); i++) await new Promise((r) => setTimeout(r, 5));
    expect(stderr).toContain('previous snapshot:');
    expect(existsSync(lock)).toBe(true);
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(143);
    expect(stderr).toMatch(/backup aborted by SIGTERM; nothing of vm\/100\/\S+ was kept/);
    expect(existsSync(lock)).toBe(false);
    // Nothing but finished snapshots in the group directory, without any listing having cleaned up.
    for (const name of readdirSync(join(store, 'vm/100')).filter((n) => n !== 'owner')) {
      expect(existsSync(join(store, 'vm/100', name, 'index.json.blob')), name).toBe(true);
    }
  });

  it('finds a corrupt chunk, names it with its snapshot and archive, renames it .bad, and a new backup heals it', () => {
    const snapDir = join(store, good.snapshot);
    const idx = decodeFixedIndex(readFileSync(join(snapDir, 'disk.img.fidx')), 'idx');
    const digest = idx.digests[0]!.toString('hex');
    const chunk = join(store, '.chunks', digest.slice(0, 4), digest);
    const bytes = readFileSync(chunk);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(chunk, bytes);

    const restore = env.run(['restore', '--store', 'main', good.snapshot, 'disk.img', join(env.dir, 'corrupt.img')]);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toContain(`chunk ${digest}`);
    expect(restore.stderr).toContain('E_BLOB_CRC');
    expect(existsSync(join(env.dir, 'corrupt.img'))).toBe(false);
    expect(existsSync(join(env.dir, 'corrupt.img.partial'))).toBe(false);

    const v = env.run(['verify', '--store', 'main', good.snapshot]);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain(`${good.snapshot}: failed`);
    expect(v.stdout).toContain(`disk.img.fidx chunk ${digest}`);
    expect(v.stdout).toContain('CRC-32 mismatch');
    expect(existsSync(chunk)).toBe(false);
    expect(existsSync(`${chunk}.0.bad`)).toBe(true);
    const snaps = env.json<Snap[]>(['snapshots', '--store', 'main']);
    expect(snaps.find((s) => s.snapshot === good.snapshot)!.verification!.state).toBe('failed');

    // The chunk is missing now: a new backup of the same data writes it again.
    const again = env.json<{ archives: { newChunks: number }[] }>(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '100', `disk.img:${image}`]);
    expect(again.archives[0]!.newChunks).toBeGreaterThanOrEqual(1);
    verifyAllOk();
  });

  it('reports a truncated index with the file that is damaged', () => {
    const res = env.json<BackupResult>(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '200', `disk.img:${image}`]);
    const fidx = join(store, res.snapshot, 'disk.img.fidx');
    truncateSync(fidx, 4096 + 40);
    const r = env.run(['restore', '--store', 'main', res.snapshot, 'disk.img', join(env.dir, 't.img')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${res.snapshot}/disk.img.fidx`);
    expect(r.stderr).toContain('E_INDEX_TRUNCATED');
    const v = env.run(['verify', '--store', 'main', 'vm/200']);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/truncated/);
    // Remove the damaged snapshot so the last test can check the whole store.
    execFileSync('rm', ['-rf', join(store, 'vm/200')]);
  });

  it('stops cleanly when the datastore disk is full', () => {
    const small = join(env.dir, 'small');
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', small]);
    try {
      expect(env.run(['datastore', 'create', 'tiny', join(small, 'ds')]).code).toBe(0);
      const big = join(env.dir, 'big.img');
      const first = env.json<BackupResult>(['backup', '--store', 'tiny', '--backup-type', 'vm', '--backup-id', '1', `disk.img:${image}`]);
      const full = env.run(['backup', '--store', 'tiny', '--backup-type', 'vm', '--backup-id', '2', `disk.img:${big}`]);
      expect(full.code).toBe(1);
      expect(full.stderr).toMatch(/datastore .* is full: no space left/);
      expect(full.stderr).toContain('E_DISK_FULL');
      // The failed backup left no snapshot directory; the earlier one still verifies.
      expect(readdirSync(join(small, 'ds/vm/2')).filter((n) => n !== 'owner')).toEqual([]);
      const snaps = env.json<Snap[]>(['snapshots', '--store', 'tiny']);
      expect(snaps.map((s) => s.snapshot)).toEqual([first.snapshot]);
      expect(env.run(['verify', '--store', 'tiny']).code).toBe(0);
    } finally {
      execFileSync('umount', ['-l', small]);
    }
  });

  it('leaves the datastore consistent after all of the above', () => {
    const res = verifyAllOk();
    expect(res.snapshots.length).toBeGreaterThanOrEqual(4);
  });
});
