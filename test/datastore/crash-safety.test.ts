import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CliEnv } from '../helpers/cli.js';
import { MiB, ageChunks as ageStoreChunks, randomData, writeImage } from '../helpers/data.js';

interface Snap { snapshot: string }

/** Deterministic "random" kill moments in [fromMs, fromMs + spanMs), so a failure can be reproduced. */
function* moments(seed: number, spanMs: number, fromMs = 30): Generator<number> {
  let x = seed;
  for (;;) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    yield fromMs + (x % Math.max(1, Math.floor(spanMs)));
  }
}

/** Wall time of one command run to its end (to place kill moments inside such runs on this machine). */
async function timed(child: ChildProcess): Promise<number> {
  const started = Date.now();
  await new Promise((resolve) => child.on('exit', resolve));
  return Date.now() - started;
}

/** Resolves true when the child was killed (false when it finished before the moment came). */
function killAfter(child: ChildProcess, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (_code, signal) => {
      clearTimeout(t);
      resolve(signal === 'SIGKILL');
    });
  });
}

/** SIGKILL at random moments of backup, gc and prune: the next command cleans up and nothing is lost. */
describe('crash safety', () => {
  const env = new CliEnv();
  const store = join(env.dir, 'store');
  const image = join(env.dir, 'disk.img');

  let leftoversRemoved = 0;
  const checkConsistent = () => {
    const list = env.run(['snapshots', '--store', 'main', '--output-format', 'json']);
    expect(list.code, list.stderr).toBe(0);
    if (list.stderr.includes('removed leftover of an interrupted backup')) leftoversRemoved++;
    const snaps = JSON.parse(list.stdout) as Snap[];
    // Every listed snapshot verifies: all its chunks are present and intact.
    const v = env.run(['verify', '--store', 'main', '--output-format', 'json']);
    expect(v.code, v.stdout).toBe(0);
    // No unfinished snapshot directory survives a listing.
    for (const d of readdirSync(join(store, 'vm/100'))) {
      if (d === 'owner') continue;
      expect(snaps.some((s) => s.snapshot === `vm/100/${d}`), `leftover ${d}`).toBe(true);
    }
    return snaps;
  };

  const ageChunks = () => ageStoreChunks(store);

  beforeAll(() => {
    writeImage(image, 48 * MiB, [['r', 3], ['t', 2], ['z', 1]]);
    expect(env.run(['datastore', 'create', 'main', store]).code).toBe(0);
    expect(env.run(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '100', `disk.img:${image}`]).code).toBe(0);
  });
  afterAll(() => env.cleanup());

  it('survives 20 backups killed at different moments', async () => {
    const newData = (i: number) => {
      // New data in a few places, so every run has new chunks to write.
      const fd = openSync(image, 'r+');
      for (const off of [0, 8, 17, 25, 33, 41]) writeSync(fd, randomData(2 * MiB, 1000 + i * 3 + off), 0, 2 * MiB, off * MiB);
      closeSync(fd);
    };
    const backup = () => env.spawn(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '100', `disk.img:${image}`]);
    // The kill moments cover the later part of a backup as long as one takes here (start-up
    // before it writes anything is the first part), so that the machine's speed does not decide
    // whether they land while a snapshot is half-written.
    newData(99);
    const full = await timed(backup());
    const at = moments(7, full * 0.75, full * 0.2);
    let killed = 0;
    // A backup that ended before its moment came (a quicker run on a less busy machine) moves the
    // later moments earlier, so that 20 runs on any machine kill most backups part-way.
    let scale = 1;
    for (let i = 0; i < 20; i++) {
      newData(i);
      if (await killAfter(backup(), at.next().value! * scale)) killed++;
      else scale *= 0.8;
      checkConsistent();
    }
    // The moments really fell inside backups: most were killed, several with a snapshot half-written.
    expect(killed).toBeGreaterThanOrEqual(10);
    expect(leftoversRemoved).toBeGreaterThanOrEqual(3);
    // And a backup after all that works and restores.
    expect(env.run(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '100', `disk.img:${image}`]).code).toBe(0);
    checkConsistent();
  });

  it('survives garbage collection killed at different moments', async () => {
    const snaps = checkConsistent();
    // Make garbage: forget all but the newest two snapshots, and make every chunk look old.
    for (const s of snaps.slice(0, -2)) expect(env.run(['forget', '--store', 'main', s.snapshot]).code).toBe(0);
    const at = moments(11, 1500);
    let killed = 0;
    for (let i = 0; i < 6; i++) {
      ageChunks();
      const child = env.spawn(['gc', '--store', 'main']);
      if (await killAfter(child, at.next().value!)) killed++;
      checkConsistent();
    }
    expect(killed).toBeGreaterThanOrEqual(3);
    const gc = env.run(['gc', '--store', 'main', '--output-format', 'json']);
    expect(gc.code, gc.stderr).toBe(0);
    expect(JSON.parse(gc.stdout)['missing-chunks']).toBe(0);
    checkConsistent();
  });

  it('survives prune killed at different moments', async () => {
    for (let i = 0; i < 6; i++) {
      expect(env.run(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '100', '--no-skip-unchanged', `disk.img:${image}`]).code).toBe(0);
    }
    const at = moments(5, 600);
    let killed = 0;
    for (let i = 0; i < 6; i++) {
      const child = env.spawn(['prune', '--store', 'main', 'vm/100', '--keep-last', String(6 - i)]);
      if (await killAfter(child, at.next().value!)) killed++;
      checkConsistent();
    }
    expect(killed).toBeGreaterThanOrEqual(2);
  });
});
