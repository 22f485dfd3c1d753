/**
 * `guestvault qmrestore` with a daemon running: the command line is handed to the daemon, which
 * runs the restore as its own task and streams the log back; the output, the errors and the exit
 * codes are those of the command run in its own process. No QEMU needed: the archive is written
 * here with the VMA writer, and the restore of a raw volume uses no QEMU tool.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VmaWriter, VMA_CLUSTER_SIZE } from '../../src/formats/vma/index.js';
import { BIN, CliEnv } from '../helpers/cli.js';

const env = new CliEnv('gv-restore-handoff-');
const dump = join(env.dir, 'dump');
const ARCHIVE = 'vzdump-qemu-100-2026_01_02-03_04_05.vma';
const SIZE = 8 * 1024 * 1024;
const disk = Buffer.alloc(SIZE);
let daemon: ChildProcess | undefined;

/** Run the CLI in `cwd` (the archive is named relative to it). */
function gv(args: string[], extra: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dump, env: env.env(extra), encoding: 'utf8' });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

const socketPath = () => join(env.home, 'run', 'guestvault.sock');

/** The pid in a UPID (UPID:node:PID:…, hexadecimal). */
const pidOf = (upid: string) => parseInt(upid.split(':')[2]!, 16);

async function writeArchive(): Promise<void> {
  // Some data, some zero clusters (not stored): the restore must put both back.
  for (let c = 0; c < SIZE / VMA_CLUSTER_SIZE; c++) if (c % 3 !== 1) randomBytes(VMA_CLUSTER_SIZE).copy(disk, c * VMA_CLUSTER_SIZE);
  const conf = 'memory: 512\nscsi0: local:100/vm-100-disk-0.raw,size=8M\n#qmdump#map:scsi0:drive-scsi0:local:raw:\n';
  const out: Buffer[] = [];
  const uuid = Buffer.from(randomUUID().replace(/-/g, ''), 'hex');
  const w = new VmaWriter({ uuid, ctime: 1_767_323_045, configs: [{ name: 'qemu-server.conf', data: Buffer.from(conf) }], devices: [{ id: 1, name: 'drive-scsi0', size: SIZE }] }, async (b) => {
    out.push(Buffer.from(b));
  });
  for (let c = 0; c < SIZE / VMA_CLUSTER_SIZE; c++) {
    const piece = disk.subarray(c * VMA_CLUSTER_SIZE, (c + 1) * VMA_CLUSTER_SIZE);
    if (piece.every((b) => b === 0)) await w.writeZeroClusters(1, c, c + 1);
    else await w.writeCluster(1, c, piece);
  }
  await w.finish();
  mkdirSync(dump, { recursive: true });
  writeFileSync(join(dump, ARCHIVE), Buffer.concat(out));
}

beforeAll(async () => {
  expect(env.run(['init']).code).toBe(0);
  await writeArchive();
  daemon = env.spawn(['daemon', '--no-api']);
  for (let i = 0; i < 300 && !existsSync(socketPath()); i++) await new Promise((r) => setTimeout(r, 50));
  expect(existsSync(socketPath())).toBe(true);
}, 60_000);

afterAll(async () => {
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((r) => daemon!.once('exit', r));
    daemon.kill('SIGTERM');
    await exited;
  }
  env.cleanup();
});

describe('qmrestore handed to the daemon', () => {
  it('runs as a task of the daemon: a relative archive path, the same output, the disk and config restored', () => {
    const json = gv(['qmrestore', ARCHIVE, '300', '--format', 'raw', '--output-format', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout) as { vmid: string; upid: string; disks: Array<{ key: string; volid: string }> };
    expect(pidOf(r.upid)).toBe(daemon!.pid);
    expect(r.disks).toEqual([expect.objectContaining({ key: 'scsi0', volid: 'local:300/vm-300-disk-0.raw' })]);
    expect(readFileSync(join(env.home, 'images', '300', 'vm-300-disk-0.raw')).equals(disk)).toBe(true);
    expect(readFileSync(join(env.home, 'guests', '300.conf'), 'utf8')).toMatch(/^memory: 512$/m);

    // Text: the task log on stderr, the one line of the command on stdout (the qmrestore launcher too).
    const text = spawnSync(process.execPath, [join(BIN, '../qmrestore.js'), ARCHIVE, '301', '--format', 'raw'], { cwd: dump, env: env.env(), encoding: 'utf8' });
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toBe(`restored VM 301 from ${join(dump, ARCHIVE)}: scsi0 local:301/vm-301-disk-0.raw\n`);
    expect(text.stderr).toContain('scsi0: restoring drive-scsi0 (8.00 MiB) to local:301/vm-301-disk-0.raw (raw)');
    expect(text.stderr).toMatch(/\nTASK OK\n$/);
    expect(readFileSync(join(env.home, 'images', '301', 'vm-301-disk-0.raw')).equals(disk)).toBe(true);
  });

  it('errors are the command\'s own: the same message and exit code as without a daemon', () => {
    const inDaemon = gv(['qmrestore', ARCHIVE, '300', '--format', 'raw']);
    const local = gv(['qmrestore', ARCHIVE, '300', '--format', 'raw'], { GUESTVAULT_NO_DAEMON: '1' });
    expect(inDaemon.code).toBe(1);
    expect(local.code).toBe(1);
    const last = (s: string) => s.trim().split('\n').pop();
    expect(last(inDaemon.stderr)).toBe('error: VM 300 already exists; use --force to restore over it (it must be stopped), or choose another VMID [E_GUEST_EXISTS]');
    expect(last(inDaemon.stderr)).toBe(last(local.stderr));
    // A usage error is declined by the daemon and said by the command itself (exit code 2).
    const usage = gv(['qmrestore', ARCHIVE, '30']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("invalid VMID '30'");
    // A missing archive: named, nothing created.
    const missing = gv(['qmrestore', 'vzdump-qemu-100-2026_01_01-00_00_00.vma', '302']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(join(dump, 'vzdump-qemu-100-2026_01_01-00_00_00.vma'));
    expect(existsSync(join(env.home, 'guests', '302.conf'))).toBe(false);
  });

  it('the daemon declines a command it does not take, so that a newer client runs it itself', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const s = createConnection(socketPath());
      let text = '';
      s.on('connect', () => s.write(`${JSON.stringify({ op: 'frobnicate', args: [], cwd: '/', node: 'x' })}\n`));
      s.on('data', (d) => (text += d.toString()));
      s.on('close', () => resolve(text));
      s.on('error', reject);
    });
    expect(JSON.parse(reply)).toEqual({ declined: 'this daemon does not run frobnicate' });
  });

  it('without a daemon, or with one too old to take qmrestore, the command runs in its own process', async () => {
    const exited = new Promise((r) => daemon!.once('exit', r));
    daemon!.kill('SIGTERM');
    await exited;
    const r = gv(['qmrestore', ARCHIVE, '303', '--format', 'raw', '--output-format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(pidOf((JSON.parse(r.stdout) as { upid: string }).upid)).not.toBe(daemon!.pid);
    expect(readFileSync(join(env.home, 'images', '303', 'vm-303-disk-0.raw')).equals(disk)).toBe(true);
    // A daemon of an earlier version answers an op it does not know with a usage error.
    const old = createServer((c) => c.once('data', () => c.end(`${JSON.stringify({ error: { code: 'E_USAGE', message: 'daemon socket: unexpected message "qmrestore"' } })}\n`)));
    await new Promise<void>((resolve) => old.listen(socketPath(), resolve));
    try {
      const o = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [BIN, 'qmrestore', ARCHIVE, '304', '--format', 'raw'], { cwd: dump, env: env.env() });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code, stderr }));
      });
      expect(o.code, o.stderr).toBe(0);
      expect(readFileSync(join(env.home, 'images', '304', 'vm-304-disk-0.raw')).equals(disk)).toBe(true);
    } finally {
      await new Promise((r) => old.close(r));
    }
  });
});
