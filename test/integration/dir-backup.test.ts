/**
 * VM backups into a `dir` storage as vzdump archives (VMA, compressed by an external program),
 * with the log, notes and protection beside them and retention by archive name; qmrestore from
 * those archives (and from Proxmox's, in the fixtures).
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliEnv } from '../helpers/cli.js';
import { MiB, writeImage } from '../helpers/data.js';

const FIXTURE = '/work/shared/fixtures/vma/test.vma.gz';

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
\tmax-protected-backups 1

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
    // max-protected-backups 1, and one protected archive is there already.
    const p = gv('vzdump', '100', '--storage', 'backups', '--protected', '1');
    expect(p.code).toBe(1);
    expect(p.stderr).toMatch(/storage 'backups' already holds 1 protected backup\(s\) of VM 100 \(max-protected-backups 1\)/);
    expect(readdirSync(dump).sort()).toEqual(before);
  });
});

interface Restored {
  vmid: string;
  config: Record<string, string>;
  disks: Array<{ key: string; volid: string; size: number }>;
}

function volumePath(volid: string): string {
  const m = /^local:(\d+)\/(.+)$/.exec(volid);
  if (!m) throw new Error(`not a local volume: ${volid}`);
  return join(env.home, 'images', m[1]!, m[2]!);
}

/** A volume's contents as raw bytes (qcow2 converted by qemu-img). */
function rawBytes(volid: string): Buffer {
  const out = join(env.dir, 'compare.raw');
  execFileSync('qemu-img', ['convert', '-U', '-O', 'raw', volumePath(volid), out]);
  return readFileSync(out);
}

function imageFormat(volid: string): string {
  return (JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', volumePath(volid)], { encoding: 'utf8' })) as { format: string }).format;
}

/** Nothing of VM `vmid` exists: no config, no volumes, no temp files. */
function expectNothingOf(vmid: string): void {
  expect(existsSync(join(env.home, 'guests', `${vmid}.conf`))).toBe(false);
  const dir = join(env.home, 'images', vmid);
  expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
}

describe('qmrestore from a VMA archive', () => {
  it('restores config and disks from STORAGE:backup/<file> (zstd) and from a path (plain, --format raw), bit for bit, sparse', () => {
    const zst = archives().find((f) => f.endsWith('.vma.zst'))!;
    const r = env.json<Restored>(['qmrestore', `backups:backup/${zst}`, '200']);
    expect(r.disks.map((d) => [d.key, d.size]).sort()).toEqual([['scsi0', 8 * MiB], ['virtio0', 40 * MiB]]);
    const byKey = Object.fromEntries(r.disks.map((d) => [d.key, d.volid]));
    expect(rawBytes(byKey.virtio0!).equals(original)).toBe(true);
    expect(rawBytes(byKey.scsi0!).equals(small)).toBe(true);
    // Formats as backed up: virtio0 was qcow2, scsi0 raw.
    expect(imageFormat(byKey.virtio0!)).toBe('qcow2');
    expect(imageFormat(byKey.scsi0!)).toBe('raw');
    const conf = readFileSync(join(env.home, 'guests', '200.conf'), 'utf8');
    expect(conf).toContain('name: web');
    expect(conf).toContain(`virtio0: ${byKey.virtio0},size=40M`);
    expect(conf).not.toContain('qmdump');
    expect(conf).not.toMatch(/^lock:/m);

    const plain = archives().find((f) => f.endsWith('.vma'))!;
    const p = env.run(['qmrestore', join(dump, plain), '201', '--format', 'raw']);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain(`restored VM 201 from ${join(dump, plain)}`);
    expect(p.stderr).toMatch(/restored 40\.0 MiB from drive-virtio0/);
    const v = readFileSync(join(env.home, 'guests', '201.conf'), 'utf8').match(/^virtio0: ([^,\n]+)/m)![1]!;
    expect(imageFormat(v)).toBe('raw');
    expect(readFileSync(volumePath(v)).equals(original)).toBe(true);
    // The 16 MiB zero run was not written: the raw file has holes.
    expect(statSync(volumePath(v)).blocks * 512).toBeLessThan(30 * MiB);
  });

  it('--disk restores one disk of an existing, stopped VM from an archive; the config stays', () => {
    const confBefore = readFileSync(join(env.home, 'guests', '201.conf'), 'utf8');
    const scsi = confBefore.match(/^scsi0: ([^,\n]+)/m)![1]!;
    writeFileSync(volumePath(scsi), Buffer.alloc(8 * MiB, 7));
    const zst = archives().find((f) => f.endsWith('.vma.zst'))!;
    const r = env.run(['qmrestore', join(dump, zst), '201', '--disk', 'scsi0']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(volumePath(scsi)).equals(small)).toBe(true);
    expect(readFileSync(join(env.home, 'guests', '201.conf'), 'utf8')).toBe(confBefore);
  });

  it('a truncated, corrupt, incomplete or foreign archive fails naming offset and device, and leaves no VM behind', () => {
    const plain = join(dump, archives().find((f) => f.endsWith('.vma'))!);
    const bytes = readFileSync(plain);
    mkdirSync(join(env.dir, 'bad'), { recursive: true });
    // Cut inside the data of an extent.
    const cut = join(env.dir, 'bad', 'cut.vma');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100_000));
    const t = gv('qmrestore', cut, '202');
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/truncated at byte \d+: inside the extent \d+ starting at byte \d+ .*data of drive-/);
    expectNothingOf('202');
    // A damaged extent header (its MD5 no longer matches): offset, and which disks were being restored.
    const first = bytes.indexOf(Buffer.from('VMAE', 'latin1'));
    const corrupt = Buffer.from(bytes);
    corrupt[first + 40] ^= 0xff;
    const bad = join(env.dir, 'bad', 'corrupt.vma');
    writeFileSync(bad, corrupt);
    const c = gv('qmrestore', bad, '202');
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(new RegExp(`extent 1 at byte ${first}`));
    expect(c.stderr).toMatch(/drive-(virtio|scsi)0/);
    expectNothingOf('202');
    // Proxmox's own archive in the fixtures is a truncated one: it parses, and most clusters are missing.
    const px = join(env.dir, 'bad', 'vzdump-qemu-100-2019_01_01-00_00_00.vma.gz');
    copyFileSync(FIXTURE, px);
    const x = gv('qmrestore', px, '202');
    expect(x.code).toBe(1);
    expect(x.stderr).toMatch(/is incomplete: drive-scsi0: 163,?724 of 163,?840 clusters missing, the first is cluster 23/);
    expect(x.stderr).toContain('scsi0: restoring drive-scsi0 (10.0 GiB)');
    expectNothingOf('202');
    // Not VMA at all.
    const junk = join(env.dir, 'bad', 'junk.vma');
    writeFileSync(junk, Buffer.alloc(100_000, 0x41));
    const j = gv('qmrestore', junk, '202');
    expect(j.code).toBe(1);
    expect(j.stderr).toMatch(/not a VMA archive/);
    expectNothingOf('202');
  });

  it('bad input: container archives, keys, archives on a datastore storage, missing files', () => {
    const key = join(env.dir, 'k.json');
    expect(gv('key', 'create', key, '--kdf', 'none').code).toBe(0);
    const cases: Array<[string[], number, RegExp]> = [
      [['qmrestore', join(dump, 'vzdump-lxc-100-2026_01_01-00_00_00.tar.zst'), '203'], 2, /container archive \(vzdump-lxc\)/],
      [['qmrestore', join(dump, 'vzdump-qemu-100-2020_01_01-00_00_00.vma.zst'), '203'], 1, /cannot open archive .*: no such file/],
      [['qmrestore', `local-store:backup/${archives()[0]}`, '203'], 1, /storage 'local-store' is a datastore storage/],
      [['qmrestore', `backups:backup/${archives()[0]}`, '203', '--keyfile', key], 2, /--keyfile does not apply to VMA archives/],
      [['qmrestore', `backups:backup/${archives()[0]}`, '200'], 1, /VM 200 already exists/],
    ];
    for (const [args, code, message] of cases) {
      const r = env.run(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expectNothingOf('203');
    }
  });
});

describe('vzdump options: vzdump.conf, --dumpdir, --stdout, --bwlimit, the node-wide lock', () => {
  const conf = () => join(env.home, 'etc', 'vzdump.conf');

  it('vzdump.conf gives the defaults (dumpdir, compress); unused Proxmox options are ignored with a warning, bad lines are errors', () => {
    const dir = join(env.dir, 'dd1');
    mkdirSync(dir);
    writeFileSync(conf(), `# defaults\ndumpdir: ${dir}\ncompress: gzip\ntmpdir: /var/tmp\n`);
    try {
      const r = gv('vzdump', '100');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/vzdump\.conf:4: 'tmpdir' is not used by guestvault; ignored/);
      const files = readdirSync(dir);
      expect(files.filter((f) => /^vzdump-qemu-100-.*\.vma\.gz$/.test(f))).toHaveLength(1);
      expect(files.filter((f) => f.endsWith('.log'))).toHaveLength(1);
      // The command line wins over the file.
      const plain = gv('vzdump', '100', '--dumpdir', dir, '--compress', '0');
      expect(plain.code, plain.stderr).toBe(0);
      expect(readdirSync(dir).filter((f) => f.endsWith('.vma'))).toHaveLength(1);
      for (const [text, message] of [
        ['mode: fast\n', /vzdump\.conf:1: invalid mode 'fast': expected snapshot, suspend or stop/],
        ['colour: blue\n', /vzdump\.conf:1: unknown option 'colour'/],
        ['# ok\nzstd = 4\n', /vzdump\.conf:2: cannot parse 'zstd = 4'/],
      ] as const) {
        writeFileSync(conf(), text);
        const bad = gv('vzdump', '100', '--dumpdir', dir);
        expect(bad.code).toBe(1);
        expect(bad.stderr).toMatch(message);
      }
      expect(readdirSync(dir)).toHaveLength(4);
    } finally {
      rmSync(conf(), { force: true });
    }
  });

  it('--stdout writes only the archive to standard output; --dumpdir refuses a missing directory', () => {
    const r = env.run(['vzdump', '100', '--stdout', '--compress', 'zstd']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.raw.readUInt32LE(0)).toBe(0xfd2fb528);
    const file = join(env.dir, 'out.vma.zst');
    writeFileSync(file, r.raw);
    const x = join(env.dir, 'x-stdout');
    expect(gv('vma', 'extract', file, x).code).toBe(0);
    expect(readFileSync(join(x, 'disk-drive-virtio0.raw')).equals(original)).toBe(true);
    const m = gv('vzdump', '100', '--dumpdir', join(env.dir, 'nowhere'));
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/dump directory .*nowhere does not exist/);
    expect(existsSync(join(env.dir, 'nowhere'))).toBe(false);
    expect(gv('vzdump', '100', '--stdout', '--dumpdir', env.dir).code).toBe(2);
  });

  it('--bwlimit holds the read rate down', () => {
    const dir = join(env.dir, 'dd2');
    mkdirSync(dir);
    const r = gv('vzdump', '100', '--dumpdir', dir, '--bwlimit', '8192');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('bandwidth limit: 8192 KiB/s');
    const m = /drive-virtio0: 40\.0 MiB, read ([\d.]+) MiB in ([\d.]+)s/.exec(r.stderr)!;
    expect(m, r.stderr).toBeTruthy();
    // All but the first 4 MiB read wait for the schedule: at most (read - 4 MiB) / 8 MiB/s seconds early.
    expect(Number(m[2])).toBeGreaterThanOrEqual((Number(m[1]) - 4) / 8 - 0.1);
  });

  it('the node-wide lock: a second run fails at once with --lockwait 0, waits otherwise, and takes over a dead holder', async () => {
    const dir = join(env.dir, 'dd3');
    mkdirSync(dir);
    const lockFile = join(env.home, 'run', 'vzdump.lock');
    const holder = spawn('sleep', ['60']);
    const start = readFileSync(`/proc/${holder.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];
    mkdirSync(join(env.home, 'run'), { recursive: true });
    writeFileSync(lockFile, JSON.stringify({ pid: holder.pid, start, host: hostname(), since: Date.now() / 1000, purpose: 'vzdump task UPID:test' }));
    try {
      const now = gv('vzdump', '100', '--dumpdir', dir, '--lockwait', '0');
      expect(now.code).toBe(1);
      expect(now.stderr).toMatch(new RegExp(`the node-wide vzdump lock is locked: vzdump task UPID:test is running \\(pid ${holder.pid} .*not waiting`));
      expect(readdirSync(dir)).toEqual([]);
      const waiting = env.spawn(['vzdump', '100', '--dumpdir', dir, '--lockwait', '1']);
      let err = '';
      waiting.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      const exited = new Promise<number>((resolve) => waiting.on('close', (c) => resolve(c ?? 128)));
      for (let i = 0; i < 100 && !err.includes('waiting for the node-wide vzdump lock'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(err).toContain('waiting for the node-wide vzdump lock (up to 1 minute(s))');
      expect(readdirSync(dir)).toEqual([]);
      holder.kill('SIGKILL');
      expect(await exited, err).toBe(0);
      expect(err).toMatch(/removed stale lock of the node-wide vzdump lock/);
      expect(readdirSync(dir).filter((f) => f.endsWith('.vma'))).toHaveLength(1);
      expect(existsSync(lockFile)).toBe(false);
    } finally {
      holder.kill('SIGKILL');
    }
  });
});

describe('a full disk', () => {
  it('an archive that does not fit: clear error, the .dat removed, the VM untouched; a restore that does not fit leaves no VM', () => {
    const mnt = join(env.dir, 'small');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mnt]);
    try {
      const r = gv('vzdump', '100', '--dumpdir', mnt, '--compress', '0');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/dump directory .*small is full: no space left for .*vzdump-qemu-100-.*\.vma; the incomplete .*\.dat was removed/);
      expect(readdirSync(mnt)).toEqual([]);
      expect(gv('vm', 'status', '100').stdout).toContain('stopped');
      expect(readFileSync(join(env.home, 'guests', '100.conf'), 'utf8')).not.toMatch(/^lock:/m);
      // Restoring into a storage that cannot hold the disks.
      expect(gv('storage', 'add', 'dir', 'tiny', '--path', mnt, '--content', 'images').code).toBe(0);
      const plain = join(dump, archives().find((f) => f.endsWith('.vma'))!);
      const q = gv('qmrestore', plain, '204', '--storage', 'tiny', '--format', 'raw');
      expect(q.code).toBe(1);
      expect(q.stderr).toMatch(/no space left/);
      expect(existsSync(join(env.home, 'guests', '204.conf'))).toBe(false);
      expect(readdirSync(join(mnt, 'images')).flatMap((d) => readdirSync(join(mnt, 'images', d)))).toEqual([]);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
