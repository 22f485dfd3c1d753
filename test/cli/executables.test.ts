/** `vzdump` and `qmrestore` as executables of their own behave as `guestvault vzdump|qmrestore`. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliEnv } from '../helpers/cli.js';

const env = new CliEnv('gv-exe-');
afterAll(() => env.cleanup());

function run(exe: string, args: string[]) {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', `${exe}.js`), ...args], { env: env.env(), encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('vzdump and qmrestore executables', () => {
  it('take the same options and give the same errors', () => {
    const help = run('vzdump', ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--stdout/);
    expect(help.stdout).toMatch(/--dumpdir <dir>/);
    const both = run('vzdump', ['100', '--storage', 'local', '--dumpdir', '/tmp']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--storage and --dumpdir are mutually exclusive');
    const r = run('qmrestore', ['/nonexistent/vzdump-qemu-100-2026_01_01-00_00_00.vma.zst', '100']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot open archive /nonexistent/vzdump-qemu-100-2026_01_01-00_00_00.vma.zst: no such file');
  });
});
