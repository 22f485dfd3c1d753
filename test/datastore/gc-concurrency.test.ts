import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliEnv } from '../helpers/cli.js';
import { MiB, ageChunks, writeImage } from '../helpers/data.js';

function finished(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((r) => child.on('exit', (code) => r({ code, stderr })));
}

/**
 * Garbage collection racing backups that reuse exactly the chunks it is about to remove: the
 * data of a forgotten snapshot is backed up again while GC sweeps, with every chunk aged past
 * the cutoff. Nothing a finished snapshot needs may go missing.
 */
describe('garbage collection concurrent with backups', () => {
  const env = new CliEnv();
  const store = join(env.dir, 'store');
  const images = [0, 1, 2].map((i) => join(env.dir, `img${i}.img`));

  beforeAll(() => {
    images.forEach((p, i) => writeImage(p, 40 * MiB, [['r', 2], ['t', 1], ['z', 1]], 100 + i));
    expect(env.run(['datastore', 'create', 'main', store]).code).toBe(0);
  });
  afterAll(() => env.cleanup());

  it('loses nothing over repeated rounds', async () => {
    for (let round = 0; round < 5; round++) {
      // A snapshot of image A, then forget it: its chunks are garbage now, and old.
      const a = images[round % 3]!;
      const b = images[(round + 1) % 3]!;
      const scratch = join(env.dir, `round${round}.img`);
      copyFileSync(a, scratch);
      const first = env.json<{ snapshot: string }>(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', `g${round}`, `disk.img:${scratch}`]);
      expect(env.run(['forget', '--store', 'main', first.snapshot]).code).toBe(0);
      ageChunks(store);
      // Now GC and two backups that reuse those very chunks (and others) at the same time.
      const gc = env.spawn(['gc', '--store', 'main']);
      const b1 = env.spawn(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', `r${round}`, '--no-skip-unchanged', `disk.img:${scratch}`]);
      const b2 = env.spawn(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', 's', '--no-skip-unchanged', `disk.img:${b}`]);
      const results = await Promise.all([finished(gc), finished(b1), finished(b2)]);
      for (const r of results) expect(r.code, r.stderr).toBe(0);
      const v = env.run(['verify', '--store', 'main', '--output-format', 'json']);
      expect(v.code, v.stdout).toBe(0);
    }
    // A final GC with nothing running removes only garbage, and everything still verifies.
    ageChunks(store);
    const gc = env.json<{ 'missing-chunks': number }>(['gc', '--store', 'main']);
    expect(gc['missing-chunks']).toBe(0);
    expect(env.run(['verify', '--store', 'main']).code).toBe(0);
  });
});
