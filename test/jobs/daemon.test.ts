import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliEnv } from '../helpers/cli.js';

/** The real daemon, in real time: a job scheduled for the next minute runs, and SIGTERM stops it cleanly. */
describe('guestvault daemon', () => {
  const env = new CliEnv();
  afterAll(() => env.cleanup());

  it('runs a job due in the next minute and exits cleanly on SIGTERM', async () => {
    const src = join(env.dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'file'), 'data\n');
    expect(env.run(['init']).code).toBe(0);
    const next = new Date(Date.now() + 60_000);
    const hhmm = `${String(next.getHours()).padStart(2, '0')}:${String(next.getMinutes()).padStart(2, '0')}`;
    expect(env.run(['job', 'create', 'soon', '--schedule', hhmm, '--host-backup', `files.tar:${src}`]).code).toBe(0);
    const daemon = env.spawn(['daemon', '--port', '0', '--listen', '127.0.0.1']);
    let out = '';
    daemon.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const stateFile = join(env.home, 'jobs/vzdump-soon.json');
    const deadline = Date.now() + 150_000;
    while (Date.now() < deadline) {
      if (existsSync(stateFile) && JSON.parse(readFileSync(stateFile, 'utf8')).state === 'stopped') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    expect(state).toMatchObject({ state: 'stopped', status: 'OK' });
    expect(existsSync(join(env.home, 'run/guestvault-daemon.pid'))).toBe(true);
    daemon.kill('SIGTERM');
    const code = await new Promise((r) => daemon.on('exit', r));
    expect(code).toBe(0);
    expect(out).toMatch(/starting job 'soon'/);
    expect(out).toMatch(/job 'soon' finished: OK/);
    expect(out).toMatch(/guestvault daemon stopped/);
    expect(existsSync(join(env.home, 'run/guestvault-daemon.pid'))).toBe(false);
  }, 200_000);
});
