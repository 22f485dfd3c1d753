/** `guestvault storage add|set|remove|list|status|content` against real files (no guests needed). */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliEnv } from '../helpers/cli.js';

const env = new CliEnv('gv-storage-');
const gv = (...args: string[]) => env.run(args);
const cfgFile = () => join(env.home, 'etc', 'storage.cfg');

interface Status { id: string; type: string; status: string; total?: number; avail?: number; reason?: string }
interface Entry { volid: string; format: string; content: string; size: number; vmid?: string; ctime?: number; notes?: string; protected?: boolean; log?: string }

beforeAll(() => {
  expect(gv('init').code).toBe(0);
});
afterAll(() => env.cleanup());

describe('guestvault storage', () => {
  it('add a dir and a datastore storage: checked, written to storage.cfg, listed, usable', () => {
    const path = join(env.dir, 'nas', 'backups');
    const a = gv('storage', 'add', 'dir', 'nas', '--path', path, '--content', 'backup', '--prune-backups', 'keep-daily=3,keep-last=2', '--max-protected-backups', '2');
    expect(a.code, a.stderr).toBe(0);
    // create-base-path: the path exists now.
    expect(existsSync(path)).toBe(true);
    const text = readFileSync(cfgFile(), 'utf8');
    expect(text).toMatch(/dir: nas\n\tpath .*nas\/backups\n\tcontent backup\n\tprune-backups keep-last=2,keep-daily=3\n\tmax-protected-backups 2\n/);
    // The embedded defaults were written along with it.
    expect(text).toContain('dir: local');
    expect(text).toContain('datastore: local-store');
    expect(gv('datastore', 'create', 'second', join(env.dir, 'ds2')).code).toBe(0);
    expect(gv('storage', 'add', 'datastore', 'ds2', '--datastore', 'second').code).toBe(0);
    const list = env.json<Array<{ id: string; type: string }>>(['storage', 'list']);
    expect(list.map((s) => `${s.id}:${s.type}`)).toEqual(['local:dir', 'local-store:datastore', 'nas:dir', 'ds2:datastore']);
    const st = env.json<Status[]>(['storage', 'status']);
    expect(st.every((s) => s.status === 'active' && s.total! > 0 && s.avail! >= 0)).toBe(true);
  });

  it('bad input: unknown type, duplicate or invalid id, relative path, bad content or retention, unknown datastore', () => {
    const before = readFileSync(cfgFile(), 'utf8');
    const cases: Array<[string[], number, RegExp]> = [
      [['storage', 'add', 'zfs', 'z1', '--path', '/x'], 2, /unknown storage type 'zfs' \(known: dir, datastore, nfs\)/],
      [['storage', 'add', 'dir', 'nas', '--path', '/x'], 1, /storage 'nas' already exists/],
      [['storage', 'add', 'dir', '9bad', '--path', '/x'], 2, /invalid storage id '9bad'/],
      [['storage', 'add', 'dir', 'rel', '--path', 'relative/dir'], 2, /--path must be an absolute path/],
      [['storage', 'add', 'dir', 'nopath'], 2, /a dir storage needs --path/],
      [['storage', 'add', 'dir', 'c1', '--path', '/x', '--content', 'backup,iso'], 2, /invalid content 'backup,iso' for a dir storage \(allowed: images, backup\)/],
      [['storage', 'add', 'datastore', 'c2', '--datastore', 'second', '--content', 'images'], 2, /invalid content 'images' for a datastore storage/],
      [['storage', 'add', 'dir', 'p1', '--path', '/x', '--prune-backups', 'keep-often=3'], 2, /keep-often/],
      [['storage', 'add', 'datastore', 'd1', '--datastore', 'nope'], 1, /datastore 'nope'/],
      [['storage', 'add', 'dir', 'm1', '--path', '/x', '--max-protected-backups', 'lots'], 2, /invalid --max-protected-backups 'lots'/],
      [['storage', 'set', 'nope', '--comment', 'x'], 1, /unknown storage 'nope'/],
      [['storage', 'set', 'nas', '--delete', 'path'], 2, /a dir storage cannot be without it/],
      [['storage', 'remove', 'nope'], 1, /unknown storage 'nope'/],
      [['storage', 'content', 'nope'], 1, /unknown storage 'nope'/],
    ];
    for (const [args, code, message] of cases) {
      const r = env.run(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    expect(readFileSync(cfgFile(), 'utf8')).toBe(before);
    expect(existsSync('/x')).toBe(false);
  });

  it('content lists archives with notes, protection and log, and disk images; --vmid and --content filter', () => {
    const dump = join(env.dir, 'nas', 'backups', 'dump');
    mkdirSync(dump, { recursive: true });
    const a = 'vzdump-qemu-100-2026_11_20-23_00_00.vma.zst';
    const b = 'vzdump-qemu-101-2026_11_21-23_00_00.vma';
    writeFileSync(join(dump, a), Buffer.alloc(1000));
    writeFileSync(join(dump, `${a}.notes`), 'before the upgrade');
    writeFileSync(join(dump, `${a}.protected`), '');
    writeFileSync(join(dump, 'vzdump-qemu-100-2026_11_20-23_00_00.log'), 'INFO: done\n');
    writeFileSync(join(dump, b), Buffer.alloc(10));
    writeFileSync(join(dump, 'my-copy.vma'), Buffer.alloc(5)); // not an archive name: not listed
    writeFileSync(join(dump, 'vzdump-qemu-102-2026_11_22-23_00_00.vma.dat'), Buffer.alloc(5)); // in progress: not listed
    const all = env.json<Entry[]>(['storage', 'content', 'nas']);
    expect(all.map((e) => e.volid)).toEqual([`nas:backup/${a}`, `nas:backup/${b}`]);
    expect(all[0]).toMatchObject({ format: 'vma.zst', content: 'backup', size: 1000, vmid: '100', notes: 'before the upgrade', protected: true, log: join(dump, 'vzdump-qemu-100-2026_11_20-23_00_00.log') });
    expect(all[0]!.ctime).toBe(Math.floor(new Date(2026, 10, 20, 23, 0, 0).getTime() / 1000));
    expect(all[1]).toMatchObject({ format: 'vma', vmid: '101', protected: false });
    expect(all[1]!.notes).toBeUndefined();
    expect(env.json<Entry[]>(['storage', 'content', 'nas', '--vmid', '101']).map((e) => e.vmid)).toEqual(['101']);
    // Disk images of the local dir storage.
    mkdirSync(join(env.home, 'images', '105'), { recursive: true });
    writeFileSync(join(env.home, 'images', '105', 'vm-105-disk-0.raw'), Buffer.alloc(4096));
    const images = env.json<Entry[]>(['storage', 'content', 'local', '--content', 'images']);
    expect(images).toEqual([{ volid: 'local:105/vm-105-disk-0.raw', content: 'images', format: 'raw', size: 4096, vmid: '105' }]);
    const text = gv('storage', 'content', 'nas');
    expect(text.stdout).toMatch(/nas:backup\/vzdump-qemu-100-2026_11_20-23_00_00\.vma\.zst\s+vma\.zst\s+backup\s+1000 B\s+100\s+.*yes\s+before the upgrade/);
  });

  it('content of a datastore storage lists its snapshots with notes and protection', () => {
    const src = join(env.dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'f'), 'data');
    const b = gv('backup', '--store', 'second', '--backup-type', 'host', '--backup-id', 'web', `etc.tar:${src}`);
    expect(b.code, b.stderr).toBe(0);
    const [snap] = env.json<Entry[]>(['storage', 'content', 'ds2']);
    expect(snap!.volid).toMatch(/^ds2:backup\/host\/web\/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(snap).toMatchObject({ format: 'pbs-host', content: 'backup', vmid: 'web', protected: false });
    expect(snap!.size).toBeGreaterThan(0);
  });

  it('status says why a storage is inactive; set changes and deletes properties; remove refuses a storage in use', () => {
    expect(gv('storage', 'add', 'dir', 'usb', '--path', join(env.dir, 'usb'), '--create-base-path', '0').code).toBe(0);
    const [usb] = env.json<Status[]>(['storage', 'status', 'usb']);
    expect(usb).toMatchObject({ id: 'usb', status: 'inactive', reason: `path ${join(env.dir, 'usb')} does not exist` });
    expect(gv('storage', 'set', 'usb', '--disable', '1').code).toBe(0);
    expect(env.json<Status[]>(['storage', 'status', 'usb'])[0]!.status).toBe('disabled');
    const s = gv('storage', 'set', 'nas', '--comment', 'the NAS', '--delete', 'prune-backups,max-protected-backups');
    expect(s.code, s.stderr).toBe(0);
    const nas = readFileSync(cfgFile(), 'utf8').split(/\n\n/).find((b) => b.startsWith('dir: nas'))!;
    expect(nas).toContain('comment the NAS');
    expect(nas).not.toContain('prune-backups');
    // A job that writes to it keeps it.
    expect(gv('job', 'create', 'to-nas', '--schedule', 'daily', '--storage', 'nas', '--all', '1').code).toBe(0);
    const r = gv('storage', 'remove', 'nas');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/storage 'nas' is in use by backup job 'to-nas'/);
    // local holds the images of VM 105 (if a VM used them); remove of an unused one works and keeps its files.
    expect(gv('job', 'delete', 'to-nas').code).toBe(0);
    const ok = gv('storage', 'remove', 'nas');
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(cfgFile(), 'utf8')).not.toContain('dir: nas');
    expect(existsSync(join(env.dir, 'nas', 'backups', 'dump', 'vzdump-qemu-101-2026_11_21-23_00_00.vma'))).toBe(true);
    rmSync(join(env.dir, 'nas'), { recursive: true });
  });
});
