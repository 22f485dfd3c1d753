import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliEnv } from '../helpers/cli.js';
import { MiB, writeImage } from '../helpers/data.js';

/** Block devices (loop devices over files) as backup source and restore target. */
describe('block devices', () => {
  const env = new CliEnv();
  const loops: string[] = [];
  const attach = (file: string) => {
    const dev = execFileSync('losetup', ['-f', '--show', file], { encoding: 'utf8' }).trim();
    loops.push(dev);
    return dev;
  };
  afterAll(() => {
    for (const l of loops) execFileSync('losetup', ['-d', l]);
    env.cleanup();
  });

  it('backs up a block device and restores it onto another one, bit-identical', () => {
    const srcFile = writeImage(join(env.dir, 'src.img'), 20 * MiB, [['r', 3], ['z', 5], ['t', 2]]);
    const dstFile = join(env.dir, 'dst.img');
    writeImage(dstFile, 20 * MiB, [['r', 20]], 77); // stale data that must be overwritten, zeros included
    const src = attach(srcFile);
    const dst = attach(dstFile);
    expect(env.run(['datastore', 'create', 'main', join(env.dir, 'store')]).code).toBe(0);
    const res = env.json<{ snapshot: string; archives: { size: number }[] }>(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '300', `drive-scsi0.img:${src}`]);
    expect(res.archives[0]!.size).toBe(20 * MiB);
    const r = env.run(['restore', '--store', 'main', res.snapshot, 'drive-scsi0.img', dst]);
    expect(r.code, r.stderr).toBe(0);
    execFileSync('sync');
    expect(readFileSync(dst).equals(readFileSync(srcFile))).toBe(true);
  });
});
