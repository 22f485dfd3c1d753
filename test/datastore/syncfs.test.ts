import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { syncFs } from '../../src/datastore/syncfs.js';

const built = join(import.meta.dirname, '../../dist/datastore/syncfs.js');

describe('syncFs (sync -f through one long-lived shell)', () => {
  it('answers every caller, also for paths with spaces and newlines', async () => {
    const done: number[] = [];
    const paths = ['/tmp', '/', '/tmp/with space', '/tmp/new\nline', '/no/such/dir', '/tmp'];
    await Promise.all(paths.map((p, i) => syncFs(p).then(() => done.push(i))));
    expect(done.sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('does not keep a process alive once its syncs are done', () => {
    // If the idle helper held the event loop open, the child would never exit on its own.
    const started = Date.now();
    const r = spawnSync(process.execPath, ['-e', `import(${JSON.stringify(built)}).then(async (m) => { await m.syncFs('/tmp'); await m.syncFs('/tmp'); console.log('synced'); })`], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('synced');
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
