/**
 * nfs storages. This machine's kernel has no NFS client, so these tests cover what can be checked
 * without one: reading mountinfo, and every way activation fails — with nothing written into the
 * mount point. (A real export was not available to test against; see the README.)
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nfsMountProblem, parseMountinfo, type StorageConfig } from '../../src/storage/index.js';
import { CliEnv } from '../helpers/cli.js';

const env = new CliEnv('gv-nfs-');
const gv = (...args: string[]) => env.run(args);
let server: Server;

beforeAll(async () => {
  expect(gv('init').code).toBe(0);
  // Something that answers on the NFS port but is not an NFS server: the mount itself must fail.
  server = createServer((s) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(2049, '127.0.0.1', () => resolve());
  });
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  env.cleanup();
});

describe('mountinfo', () => {
  const mnt = join(env.dir, 'mnt with space');
  const cfg: StorageConfig = { id: 'nas', type: 'nfs', server: '192.168.1.5', export: '/srv/backups', path: mnt };
  const line = (point: string, type: string, source: string) => `120 29 0:52 / ${point.replace(/ /g, '\\040')} rw,relatime shared:70 - ${type} ${source} rw,vers=4.2`;

  it('finds the NFS mount of the storage, and says what is wrong otherwise', () => {
    mkdirSync(mnt, { recursive: true });
    const root = '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw';
    expect(parseMountinfo(`${root}\n${line(mnt, 'nfs4', '192.168.1.5:/srv/backups')}\n`)).toEqual([
      { mountPoint: '/', fstype: 'ext4', source: '/dev/vda1' },
      { mountPoint: mnt, fstype: 'nfs4', source: '192.168.1.5:/srv/backups' },
    ]);
    expect(nfsMountProblem(cfg, `${root}\n${line(mnt, 'nfs4', '192.168.1.5:/srv/backups/')}\n`)).toBeUndefined();
    expect(nfsMountProblem(cfg, `${root}\n`)).toBe(`${mnt} is not mounted`);
    expect(nfsMountProblem(cfg, `${line(mnt, 'tmpfs', 'tmpfs')}\n`)).toBe(`${mnt} is a tmpfs mount, not NFS`);
    expect(nfsMountProblem(cfg, `${line(mnt, 'nfs', '10.0.0.9:/other')}\n`)).toBe(`${mnt} is mounted from 10.0.0.9:/other, not 192.168.1.5:/srv/backups`);
    // The last mount on a path is the one that counts.
    expect(nfsMountProblem(cfg, `${line(mnt, 'nfs4', '192.168.1.5:/srv/backups')}\n${line(mnt, 'tmpfs', 'tmpfs')}\n`)).toMatch(/tmpfs mount/);
    expect(nfsMountProblem({ ...cfg, path: join(env.dir, 'missing') })).toMatch(/mount point .*missing does not exist/);
  });
});

describe('nfs storage activation', () => {
  const mnt = join(env.dir, 'nas');

  it('add checks server and export; status says it is not mounted', () => {
    expect(gv('storage', 'add', 'nfs', 'n1', '--server', '127.0.0.1').stderr).toMatch(/an nfs storage needs --server HOST and --export \/PATH/);
    expect(gv('storage', 'add', 'nfs', 'n1', '--server', '127.0.0.1', '--export', 'srv').stderr).toMatch(/--export must be the exported path/);
    expect(gv('storage', 'add', 'dir', 'd1', '--path', '/x', '--server', 'a').stderr).toMatch(/--server applies to nfs storages/);
    const a = gv('storage', 'add', 'nfs', 'nas', '--server', '127.0.0.1', '--export', '/srv/backups', '--path', mnt, '--content', 'backup,images', '--options', 'vers=4.2,soft');
    expect(a.code, a.stderr).toBe(0);
    const section = readFileSync(join(env.home, 'etc', 'storage.cfg'), 'utf8').split('nfs: nas\n')[1]!.split('\n');
    expect(section).toEqual(expect.arrayContaining(['\tserver 127.0.0.1', '\texport /srv/backups', `\tpath ${mnt}`, '\tcontent backup,images', '\toptions vers=4.2,soft']));
    const [st] = env.json<Array<{ status: string; reason: string }>>(['storage', 'status', 'nas']);
    expect(st!.status).toBe('inactive');
    expect(st!.reason).toMatch(/mount point .*nas does not exist|is not mounted/);
  });

  it('a server that answers but cannot be mounted: "not online", and nothing is written into the mount point', () => {
    mkdirSync(mnt, { recursive: true });
    writeFileSync(join(mnt, 'local-file'), 'on the local disk');
    for (const args of [['vzdump', '999', '--storage', 'nas'], ['storage', 'content', 'nas'], ['qmrestore', 'nas:backup/vzdump-qemu-100-2026_01_01-00_00_00.vma.zst', '300']]) {
      const r = env.run(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(/storage 'nas' is not online: mount 127\.0\.0\.1:\/srv\/backups on .*nas failed: \S/);
    }
    // Restoring disks onto it: the same.
    expect(gv('qmrestore', join(env.dir, 'x.vma'), '301', '--storage', 'nas').stderr).toMatch(/storage 'nas' is not online/);
    expect(readdirSync(mnt)).toEqual(['local-file']);
  });

  it('a server that does not answer: "not online" naming the server and port', () => {
    expect(gv('storage', 'add', 'nfs', 'gone', '--server', '127.0.0.3', '--export', '/srv', '--path', join(env.dir, 'gone')).code).toBe(0);
    const r = gv('vzdump', '999', '--storage', 'gone');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/storage 'gone' is not online: NFS server 127\.0\.0\.3 does not answer on port 2049 \(connection refused\)/);
    expect(readdirSync(env.dir)).not.toContain('gone');
  });
});
