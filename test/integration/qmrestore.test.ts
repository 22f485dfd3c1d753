/**
 * qmrestore against real QEMU tools: a two-disk VM (qcow2 + raw, plus a backup=0 disk) is backed
 * up with vzdump and restored as a new VM, over a stopped VM, one disk at a time, and from an
 * encrypted snapshot; bad input and a corrupt chunk must leave no config and no volumes behind.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliEnv } from '../helpers/cli.js';
import { MiB, writeImage } from '../helpers/data.js';

const env = new CliEnv('gv-qmrestore-');
const gv = (...args: string[]) => env.run(args);
const STARTED = new Set<string>();

interface Restored {
  vmid: string;
  config: Record<string, string>;
  disks: Array<{ key: string; volid: string; size: number }>;
  upid: string;
}

let snap = '';

function volumePath(volid: string): string {
  const m = /^local:(\d+)\/(.+)$/.exec(volid);
  if (!m) throw new Error(`not a local volume: ${volid}`);
  return join(env.home, 'images', m[1]!, m[2]!);
}

/** The config's `key: value` lines (read directly: a CLI call each time would be slow). */
function config(vmid: string): Record<string, string> {
  const text = readFileSync(join(env.home, 'guests', `${vmid}.conf`), 'utf8');
  return Object.fromEntries([...text.matchAll(/^([a-z][a-z0-9_-]*): (.*)$/gm)].map((m) => [m[1]!, m[2]!]));
}

function diskPath(vmid: string, key: string): string {
  return volumePath(config(vmid)[key]!.split(',')[0]!);
}

function identical(a: string, b: string): boolean {
  try {
    execFileSync('qemu-img', ['compare', '-U', a, b], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

function imageFormat(path: string): string {
  return (JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', path], { encoding: 'utf8' })) as { format: string }).format;
}

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Nothing of VM `vmid` exists: no config, no volumes, no temp files. */
function expectNothingOf(vmid: string): void {
  expect(existsSync(join(env.home, 'guests', `${vmid}.conf`))).toBe(false);
  const dir = join(env.home, 'images', vmid);
  expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
}

/** Everything in the images tree (to see that a refused restore changed nothing). */
function imagesTree(): string[] {
  return readdirSync(join(env.home, 'images'), { recursive: true, encoding: 'utf8' }).sort();
}

function startVm(vmid: string): void {
  const r = gv('vm', 'start', vmid);
  expect(r.code, r.stderr).toBe(0);
  STARTED.add(vmid);
}

function stopVm(vmid: string): void {
  const r = gv('vm', 'stop', vmid, '--skiplock');
  expect(r.code, r.stderr).toBe(0);
  STARTED.delete(vmid);
}

/** The digests of a fixed index (header 4096 bytes, then 32-byte digests). */
function indexDigests(file: string): string[] {
  const b = readFileSync(file).subarray(4096);
  return Array.from({ length: b.length / 32 }, (_, i) => b.subarray(i * 32, i * 32 + 32).toString('hex'));
}

beforeAll(() => {
  expect(gv('init').code).toBe(0);
  // virtio0: qcow2 with random, text and zero regions plus a pattern written through qemu-io.
  const q = writeImage(join(env.dir, 'q.raw'), 40 * MiB, [['r', 3], ['z', 5], ['t', 2], ['z', 30]], 3);
  // scsi0: raw, mostly zeros.
  const r = writeImage(join(env.dir, 'r.raw'), 24 * MiB, [['z', 6], ['r', 2], ['z', 16]], 5);
  const c = gv('vm', 'create', '100', '--name', 'web', '--memory', '64', '--virtio0', `local:0,import-from=${q}`,
    '--scsi0', `local:0,import-from=${r},format=raw,cache=writeback`, '--scsi1', 'local:8M,format=raw,backup=0');
  expect(c.code, c.stderr).toBe(0);
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xab 20M 1M', diskPath('100', 'virtio0')], { stdio: 'pipe' });
  const b = gv('vzdump', '100');
  expect(b.code, b.stderr).toBe(0);
  snap = env.json<Array<{ snapshot: string }>>(['snapshots', '--store', 'local', 'vm/100']).at(-1)!.snapshot;
});

afterAll(() => {
  for (const vmid of STARTED) gv('vm', 'stop', vmid, '--skiplock');
  env.cleanup();
});

describe('qmrestore', () => {
  it('restores a two-disk VM to a new VMID: new volumes, bit-identical and sparse disks, qcow2 stays qcow2', () => {
    const r = gv('qmrestore', snap, '101');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^restored VM 101 from local-store:backup\/vm\/100\//);
    expect(r.stderr).toMatch(/scsi1: 'local:100\/vm-100-disk-\d\.raw' is not in the backup \(backup=0\): left out of the restored config/);
    expect(r.stderr).toMatch(/virtio0: restored 40\.0 MiB in .*allocated on disk/);
    expect(r.stderr.trim().split('\n').at(-1)).toBe('TASK OK');
    const conf = config('101');
    expect(conf.virtio0).toMatch(/^local:101\/vm-101-disk-\d\.qcow2,size=40M$/);
    expect(conf.scsi0).toMatch(/^local:101\/vm-101-disk-\d\.raw,cache=writeback,size=24M$/);
    expect(conf.scsi1).toBeUndefined();
    expect(conf.name).toBe('web');
    expect(conf.lock).toBeUndefined();
    for (const key of ['virtio0', 'scsi0']) expect(identical(diskPath('100', key), diskPath('101', key)), key).toBe(true);
    expect(imageFormat(diskPath('101', 'virtio0'))).toBe('qcow2');
    expect(imageFormat(diskPath('101', 'scsi0'))).toBe('raw');
    const st = statSync(diskPath('101', 'scsi0'));
    expect(st.size).toBe(24 * MiB);
    expect(st.blocks * 512).toBeLessThanOrEqual(4 * MiB);
    // No temp files next to the volumes.
    expect(readdirSync(join(env.home, 'images', '101')).sort()).toEqual(['vm-101-disk-0.raw', 'vm-101-disk-1.qcow2']);
    // The task log is kept with its final status.
    const tasks = readdirSync(join(env.home, 'tasks'), { recursive: true, encoding: 'utf8' }).filter((f) => f.includes(':qmrestore:101:'));
    expect(tasks).toHaveLength(1);
    expect(readFileSync(join(env.home, 'tasks', tasks[0]!), 'utf8')).toMatch(/TASK OK\n$/);
  });

  it('--output-format json, the PBS volid form and --format raw', () => {
    const res = env.json<Restored>(['qmrestore', `local-store:backup/${snap}`, '102', '--format', 'raw']);
    expect(res.vmid).toBe('102');
    expect(res.upid).toMatch(/^UPID:.*:qmrestore:102:/);
    expect(res.disks.map((d) => [d.key, d.size])).toEqual([['scsi0', 24 * MiB], ['virtio0', 40 * MiB]]);
    for (const d of res.disks) {
      expect(d.volid).toMatch(/^local:102\/vm-102-disk-\d\.raw$/);
      expect(res.config[d.key]!.split(',')[0]).toBe(d.volid);
      expect(identical(diskPath('100', d.key), volumePath(d.volid))).toBe(true);
    }
    // Mostly zeros: a sparse raw file (data in 3 of its 10 chunks).
    expect(statSync(volumePath(res.disks[1]!.volid)).blocks * 512).toBeLessThanOrEqual(12 * MiB);
  });

  it('refuses an existing VM without --force, and a running VM even with --force; nothing changes', () => {
    const before = readFileSync(join(env.home, 'guests', '101.conf'), 'utf8');
    const tree = imagesTree();
    const r = gv('qmrestore', snap, '101');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/VM 101 already exists; use --force/);
    startVm('101');
    try {
      const f = gv('qmrestore', snap, '101', '--force');
      expect(f.code).toBe(1);
      expect(f.stderr).toMatch(/VM 101 is running: a running VM cannot be restored over.*\[E_VM_RUNNING\]/);
      expect(f.stderr).toMatch(/TASK ERROR: VM 101 is running/);
      expect(env.json<{ status: string }>(['vm', 'status', '101']).status).toBe('running');
    } finally {
      stopVm('101');
    }
    expect(readFileSync(join(env.home, 'guests', '101.conf'), 'utf8')).toBe(before);
    expect(imagesTree()).toEqual(tree);
  });

  it('--force over a stopped VM replaces its config and disks and removes its old volumes', () => {
    const oldPaths = ['virtio0', 'scsi0'].map((k) => diskPath('101', k));
    execFileSync('qemu-io', ['-f', 'raw', '-c', 'write -P 0x11 0 1M', oldPaths[1]!], { stdio: 'pipe' });
    expect(gv('vm', 'set', '101', '--name', 'changed', '--memory', '128', '--scsi1', 'local:4M,format=raw,backup=0').code).toBe(0);
    const excluded = diskPath('101', 'scsi1');
    const r = gv('qmrestore', snap, '101', '--force');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/removed old volume local:101\/vm-101-disk-\d\.\w+ \(was scsi0\)/);
    const conf = config('101');
    expect(conf.name).toBe('web');
    expect(conf.memory).toBe('64');
    for (const p of oldPaths) expect(existsSync(p), p).toBe(false);
    for (const key of ['virtio0', 'scsi0']) expect(identical(diskPath('100', key), diskPath('101', key)), key).toBe(true);
    // The disk excluded from backups (backup=0) holds data the backup never had: it is kept.
    expect(r.stderr).toMatch(/scsi1: kept 'local:101\/vm-101-disk-\d\.raw' of the existing VM \(backup=0/);
    expect(diskPath('101', 'scsi1')).toBe(excluded);
    expect(existsSync(excluded)).toBe(true);
    expect(readdirSync(join(env.home, 'images', '101'))).toHaveLength(3);
  });

  it('--disk virtio0 restores only that disk over its current volume; the config and the other disk stay', () => {
    const virtio = diskPath('101', 'virtio0');
    const scsi = diskPath('101', 'scsi0');
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x22 0 2M', virtio], { stdio: 'pipe' });
    execFileSync('qemu-io', ['-f', 'raw', '-c', 'write -P 0x33 0 1M', scsi], { stdio: 'pipe' });
    const scsiBefore = sha(scsi);
    const confBefore = readFileSync(join(env.home, 'guests', '101.conf'), 'utf8');
    expect(identical(diskPath('100', 'virtio0'), virtio)).toBe(false);
    const res = env.json<Restored>(['qmrestore', snap, '101', '--disk', 'virtio0']);
    expect(res.disks).toEqual([{ key: 'virtio0', volid: confBefore.match(/^virtio0: ([^,\n]+)/m)![1], size: 40 * MiB }]);
    expect(identical(diskPath('100', 'virtio0'), virtio)).toBe(true);
    expect(imageFormat(virtio)).toBe('qcow2');
    expect(sha(scsi)).toBe(scsiBefore);
    expect(readFileSync(join(env.home, 'guests', '101.conf'), 'utf8')).toBe(confBefore);
    expect(readdirSync(join(env.home, 'images', '101'))).toHaveLength(3);
    // Not on a running VM, not for a disk the snapshot or the VM lacks, not for a VM that does not exist.
    startVm('101');
    try {
      const r = gv('qmrestore', snap, '101', '--disk', 'virtio0');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/E_VM_RUNNING/);
    } finally {
      stopVm('101');
    }
    expect(gv('qmrestore', snap, '101', '--disk', 'scsi1').stderr).toMatch(/has no disk scsi1 \(it has: scsi0, virtio0\)/);
    expect(gv('qmrestore', snap, '190', '--disk', 'scsi0').stderr).toMatch(/VM 190 does not exist/);
    expect(gv('qmrestore', snap, '101', '--disk', 'virtio0', '--format', 'raw').code).toBe(2);
    expect(readFileSync(join(env.home, 'guests', '101.conf'), 'utf8')).toBe(confBefore);
    expectNothingOf('190');
  });

  it('bad input: clear errors, non-zero exit, no config and no volumes left behind', () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['qmrestore', 'vm/100/2020-01-01T00:00:00Z', '103'], 1, /snapshot vm\/100\/2020-01-01T00:00:00Z does not exist in datastore 'local' \[E_SNAPSHOT_UNKNOWN\]/],
      [['qmrestore', snap, '103', '--storage', 'nope'], 1, /unknown storage 'nope'.*\[E_STORAGE_UNKNOWN\]/],
      [['qmrestore', snap, '103', '--storage', 'local-store'], 1, /storage 'local-store' \(datastore\) cannot hold disk images.*\[E_STORAGE_CONTENT\]/],
      [['qmrestore', `nope:backup/${snap}`, '103'], 1, /unknown storage 'nope' \(storages for backups: .*\) \[E_STORAGE_UNKNOWN\]/],
      [['qmrestore', snap, '103', '--source-storage', 'local'], 1, /storage 'local' holds archive files, not snapshots.*\[E_STORAGE_TYPE\]/],
      [['qmrestore', snap, '12'], 2, /invalid VMID '12'/],
      [['qmrestore', snap, 'abc'], 2, /invalid VMID 'abc'/],
      [['qmrestore', 'vm/100', '103'], 2, /'vm\/100' is not a VM backup: expected STORAGE:backup\/vm\/<id>\/<time>/],
      [['qmrestore', 'ct/100/2026-01-01T00:00:00Z', '103'], 2, /is a ct backup/],
      [['qmrestore', '/backups/vzdump-qemu-100-2026_01_01-00_00_00.vma.zst', '103'], 1, /cannot open archive \/backups\/vzdump-qemu-100-2026_01_01-00_00_00\.vma\.zst: no such file/],
      [['qmrestore', snap, '103', '--format', 'vmdk'], 2, /--format/],
    ];
    for (const [args, code, message] of cases) {
      const r = env.run(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expectNothingOf('103');
    }
    expectNothingOf('12');
  });

  it('a corrupt chunk half-way: the restore fails naming chunk, archive and snapshot, and removes everything it created', () => {
    // Corrupt a chunk that only virtio0 (restored after scsi0) uses, so scsi0's volume exists when it fails.
    const snapDir = join(env.home, 'datastores', 'local', snap);
    const zero = createHash('sha256').update(Buffer.alloc(4 * MiB)).digest('hex');
    const scsi = new Set(indexDigests(join(snapDir, 'drive-scsi0.img.fidx')));
    const victim = indexDigests(join(snapDir, 'drive-virtio0.img.fidx')).filter((d) => d !== zero && !scsi.has(d)).at(-1)!;
    const chunk = join(env.home, 'datastores', 'local', '.chunks', victim.slice(0, 4), victim);
    copyFileSync(chunk, join(env.dir, 'chunk.bak'));
    const fd = openSync(chunk, 'r+');
    writeSync(fd, Buffer.alloc(16, 0xff), 0, 16, 100);
    closeSync(fd);
    try {
      const r = gv('qmrestore', snap, '103');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/scsi0: restored 24\.0 MiB/);
      expect(r.stderr).toMatch(new RegExp(`error: ${snap}/drive-virtio0\\.img\\.fidx: chunk ${victim}: .*mismatch`));
      expect(r.stderr).toMatch(/restore failed: removing the 2 new volume\(s\) and the config of VM 103/);
      expectNothingOf('103');
      // Over an existing VM: the old config and volumes stay as they were.
      const before = readFileSync(join(env.home, 'guests', '102.conf'), 'utf8');
      const tree = imagesTree();
      const f = gv('qmrestore', snap, '102', '--force');
      expect(f.code).toBe(1);
      expect(readFileSync(join(env.home, 'guests', '102.conf'), 'utf8')).toBe(before);
      expect(imagesTree()).toEqual(tree);
    } finally {
      copyFileSync(join(env.dir, 'chunk.bak'), chunk);
    }
  });

  it('SIGTERM during the restore: removes what it created and exits 143', async () => {
    const child = env.spawn(['qmrestore', snap, '105'], { env: { GUESTVAULT_WORKERS: '1' } });
    let stderr = '';
    const done = new Promise<number>((resolve) => child.on('exit', (c, sig) => resolve(c ?? (sig === 'SIGTERM' ? 143 : 128))));
    child.stdout.resume();
    child.stderr.on('data', (b: Buffer) => {
      const first = !stderr.includes('scsi0: restoring');
      stderr += b.toString();
      // Sent while the first of the two disks is written.
      if (first && stderr.includes('scsi0: restoring')) child.kill('SIGTERM');
    });
    expect(await done, stderr).toBe(143);
    expect(stderr).toMatch(/received SIGTERM: aborting the restore and cleaning up/);
    expect(stderr).toMatch(/TASK ERROR: restore aborted by a signal/);
    expectNothingOf('105');
  });

  it('an encrypted snapshot needs its key', () => {
    const key = join(env.dir, 'key.json');
    expect(gv('key', 'create', key, '--kdf', 'none').code).toBe(0);
    const conf = join(env.dir, 'qemu-server.conf');
    writeFileSync(conf, 'memory: 64\nname: secret\nscsi0: local:300/vm-300-disk-0.raw,size=24M\n');
    const b = gv('backup', `drive-scsi0.img:${join(env.dir, 'r.raw')}`, `qemu-server.conf:${conf}`, '--store', 'local', '--backup-type', 'vm', '--backup-id', '300', '--keyfile', key);
    expect(b.code, b.stderr).toBe(0);
    const encrypted = env.json<Array<{ snapshot: string }>>(['snapshots', '--store', 'local', 'vm/300']).at(-1)!.snapshot;
    const r = gv('qmrestore', encrypted, '104');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is encrypted.*give its key with --keyfile \[E_KEY_REQUIRED\]/);
    expectNothingOf('104');
    const res = env.json<Restored>(['qmrestore', encrypted, '104', '--keyfile', key]);
    expect(res.config.name).toBe('secret');
    expect(res.disks[0]!.volid).toBe('local:104/vm-104-disk-0.raw');
    expect(readFileSync(volumePath(res.disks[0]!.volid)).equals(readFileSync(join(env.dir, 'r.raw')))).toBe(true);
  });

  it('the restored VM starts and stops', () => {
    startVm('101');
    expect(env.json<{ status: string }>(['vm', 'status', '101']).status).toBe('running');
    stopVm('101');
    expect(env.json<{ status: string }>(['vm', 'status', '101']).status).toBe('stopped');
  });
});
