/**
 * VM backups into a `dir` storage as vzdump archives (VMA, compressed by an external program),
 * with the log, notes and protection beside them and retention by archive name.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliEnv } from '../helpers/cli.js';
import { MiB, writeImage } from '../helpers/data.js';

const env = new CliEnv('gv-dir-');
const gv = (...args: string[]) => env.run(args);
const dumpRoot = join(env.dir, 'backups');
const dump = join(dumpRoot, 'dump');
let original: Buffer;
let small: Buffer;

function archives(): string[] {
  return readdirSync(dump).filter((f) => /\.vma(\.\w+)?$/.test(f)).sort();
}

beforeAll(() => {
  expect(gv('init').code).toBe(0);
  mkdirSync(dumpRoot);
  writeFileSync(join(env.home, 'etc', 'storage.cfg'), `${readFileSync(join(env.home, 'etc', 'storage.cfg'), 'utf8')}
dir: backups
\tpath ${dumpRoot}
\tcontent backup
\tprune-backups keep-last=1

dir: gone
\tpath ${join(env.dir, 'not-mounted')}
\tcontent backup
`);
  // A qcow2 disk with a zero hole and a raw one.
  const raw = writeImage(join(env.dir, 'disk.raw'), 40 * MiB, [['r', 12], ['z', 16], ['t', 12]]);
  original = readFileSync(raw);
  const s = writeImage(join(env.dir, 'small.raw'), 8 * MiB, [['r', 3], ['z', 5]], 5);
  small = readFileSync(s);
  expect(gv('vm', 'create', '100', '--name', 'web', '--virtio0', `local:0,import-from=${raw}`, '--scsi0', `local:0,import-from=${s},format=raw`).code).toBe(0);
});

afterAll(() => {
  gv('vm', 'stop', '100');
  env.cleanup();
});

describe('vzdump into a dir storage', () => {
  it('writes vzdump-qemu-<vmid>-<time>.vma.zst with log, notes and protection; the archive extracts to the very disks', () => {
    const r = gv('vzdump', '100', '--storage', 'backups', '--compress', 'zstd', '--notes-template', '{{guestname}} on {{node}}', '--protected', '1');
    expect(r.code, r.stderr).toBe(0);
    const [archive] = archives();
    expect(archive).toMatch(/^vzdump-qemu-100-\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d\.vma\.zst$/);
    const base = archive!.replace(/\.vma\.zst$/, '');
    expect(readFileSync(join(dump, `${archive}.notes`), 'utf8')).toMatch(/^web on /);
    expect(existsSync(join(dump, `${archive}.protected`))).toBe(true);
    const log = readFileSync(join(dump, `${base}.log`), 'utf8');
    expect(log).toContain('INFO: Starting Backup of VM 100');
    expect(log).toContain('Finished Backup of VM 100');
    expect(readdirSync(dump).some((f) => f.endsWith('.dat'))).toBe(false);
    // The VM was stopped: it was started paused to read it, and is stopped again.
    expect(gv('vm', 'status', '100').stdout).toContain('stopped');

    const x = join(env.dir, 'x1');
    const e = gv('vma', 'extract', join(dump, archive!), x);
    expect(e.code, e.stderr).toBe(0);
    expect(readFileSync(join(x, 'disk-drive-virtio0.raw')).equals(original)).toBe(true);
    expect(readFileSync(join(x, 'disk-drive-scsi0.raw')).equals(small)).toBe(true);
    const conf = readFileSync(join(x, 'qemu-server.conf'), 'utf8');
    expect(conf).toContain('#qmdump#map:virtio0:drive-virtio0:local:qcow2:');
    expect(conf).toContain('#qmdump#map:scsi0:drive-scsi0:local:raw:');
    expect(conf).toContain('name: web');
    expect(conf).not.toMatch(/^lock:/m);
  });

  it('retention by archive name keeps the protected archive; uncompressed and gzip archives read back the same', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // a new second: a new archive name
    const r = gv('vzdump', '100', '--storage', 'backups', '--compress', 'gzip');
    expect(r.code, r.stderr).toBe(0);
    // keep-last=1: the new one is kept, the older one only because it is protected.
    expect(archives()).toHaveLength(2);
    expect(r.stderr).toMatch(/kept vzdump-qemu-100-.*\.vma\.zst: protected/);
    await new Promise((r) => setTimeout(r, 1100));
    const p = gv('vzdump', '100', '--storage', 'backups', '--compress', '0');
    expect(p.code, p.stderr).toBe(0);
    const now = archives();
    // The gzip archive was pruned with its log; the protected zstd one stays.
    expect(now.filter((f) => f.endsWith('.gz'))).toHaveLength(0);
    expect(now).toHaveLength(2);
    const plain = now.find((f) => f.endsWith('.vma'))!;
    expect(readdirSync(dump).filter((f) => f.endsWith('.log'))).toHaveLength(2);
    const list = env.json<{ compression: string; complete: boolean; devices: Array<{ name: string; size: number }> }>(['vma', 'list', join(dump, plain)]);
    expect(list.compression).toBe('none');
    expect(list.complete).toBe(true);
    expect(list.devices.map((d) => [d.name, d.size]).sort()).toEqual([['drive-scsi0', 8 * MiB], ['drive-virtio0', 40 * MiB]]);
  });

  it('bad input: unknown compressor, missing storage path, host paths into a dir storage — clear errors, nothing written', () => {
    const before = readdirSync(dump).sort();
    const c = gv('vzdump', '100', '--storage', 'backups', '--compress', 'xz');
    expect(c.code).toBe(2);
    expect(c.stderr).toContain("unknown compressor 'xz'");
    const g = gv('vzdump', '100', '--storage', 'gone');
    expect(g.code).toBe(1);
    expect(g.stderr).toMatch(/storage 'gone': path .*not-mounted does not exist/);
    expect(existsSync(join(env.dir, 'not-mounted'))).toBe(false);
    expect(readdirSync(dump).sort()).toEqual(before);
  });
});
