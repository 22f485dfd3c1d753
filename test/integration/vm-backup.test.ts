/**
 * VM backups against real QEMU (TCG, no guest OS): the guest's disk writes are made through a
 * second QMP monitor with `qemu-io` on the guest device, exactly the path a guest write takes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QmpClient } from '../../src/guests/index.js';
import { CliEnv, spawnUntil, stripTimestamps } from '../helpers/cli.js';
import { MiB, randomData, writeImage } from '../helpers/data.js';

const env = new CliEnv('gv-vm-');
const gv = (...args: string[]) => env.run(args);
const testQmp = join(env.dir, 't.qmp');
const SIZE = 96 * MiB;

interface Snap { snapshot: string }

function snapshots(): string[] {
  return env.json<Snap[]>(['snapshots', '--store', 'local', 'vm/100']).map((s) => s.snapshot);
}

function restoreDisk(snap: string, key: string): Buffer {
  const out = join(env.dir, `restored-${key}.raw`);
  const r = gv('restore', snap, `drive-${key}.img`, out, '--store', 'local', '--force');
  expect(r.code, r.stderr).toBe(0);
  return readFileSync(out);
}

/** A guest write through the virtio-blk device (second monitor: vzdump holds the first). */
async function guestWrite(pattern: number, offset: number, length: number): Promise<void> {
  const q = await QmpClient.connect(testQmp);
  try {
    const out = await q.execute<string>('human-monitor-command', { 'command-line': `qemu-io -d virtio0/virtio-backend "write -P 0x${pattern.toString(16)} ${offset} ${length}"` });
    expect(out).toBe('');
  } finally {
    await q.close();
  }
}

const taskLog = stripTimestamps;

/** Start vzdump in the background and wait until its log shows `marker` (or it exits). */
const vzdumpUntil = (args: string[], marker: string) => spawnUntil(env, ['vzdump', ...args], marker, { GUESTVAULT_WORKERS: '1' });

let original: Buffer;

beforeAll(() => {
  expect(gv('init').code).toBe(0);
  // 96 MiB: random data with a zero hole in the middle (not read: zero extents).
  const raw = writeImage(join(env.dir, 'disk.raw'), SIZE, [['r', 40], ['z', 16], ['r', 40]]);
  original = readFileSync(raw);
  const small = writeImage(join(env.dir, 'small.raw'), 16 * MiB, [['r', 4], ['z', 12]], 7);
  const r = gv('vm', 'create', '100', '--name', 'web', '--virtio0', `local:0,import-from=${raw}`, '--scsi0', `local:0,import-from=${small},format=raw`,
    '--args', `-qmp unix:${testQmp},server=on,wait=off`);
  expect(r.code, r.stderr).toBe(0);
  expect(gv('vm', 'start', '100').code).toBe(0);
});

afterAll(() => {
  for (const vmid of ['100', '101']) gv('vm', 'stop', vmid, '--skiplock');
  env.cleanup();
});

describe('vzdump of a running VM (no guest OS)', () => {
  it('takes a point-in-time view: writes during the backup are not in it, the VM keeps running', async () => {
    const child = env.spawn(['vzdump', '100', '--mode', 'snapshot'], { env: { GUESTVAULT_WORKERS: '1' } });
    let stderr = '';
    let wroteDuringBackup = false;
    let statusDuringBackup = '';
    let statusMs = 0;
    const done = new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 128)));
    child.stdout.resume();
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
        if (!wroteDuringBackup && stderr.includes('point-in-time view of 2 disk(s) taken')) {
          wroteDuringBackup = true;
          // The last 4 MiB chunk is read last; the write lands while the backup reads.
          guestWrite(0xcd, SIZE - 2 * MiB, MiB).then(() => {
            // The backup holds the control monitor; status answers on its own monitor meanwhile.
            const t = Date.now();
            statusDuringBackup = env.json<{ qmpstatus: string }>(['vm', 'status', '100']).qmpstatus;
            statusMs = Date.now() - t;
            resolve();
          }, reject);
        }
      });
      void done.then(() => resolve());
    });
    const stillRunning = child.exitCode === null;
    expect(await done, stderr).toBe(0);
    expect(wroteDuringBackup).toBe(true);
    expect(stillRunning).toBe(true);
    expect(statusDuringBackup).toBe('running');
    expect(statusMs).toBeLessThan(4000);
    const log = taskLog(stderr);
    expect(log).toMatch(/virtio0: dirty-bitmap status: created new, full read: first backup with a dirty bitmap/);
    expect(log).toMatch(/virtio0: reading 96\.0 MiB; 16\.0 MiB zero data not read/);
    expect(log).toMatch(/virtio0: .*read 80\.0 MiB/);
    expect(log).toMatch(/TASK OK/);
    const snap = snapshots().at(-1)!;
    expect(restoreDisk(snap, 'virtio0').equals(original)).toBe(true);
    expect(restoreDisk(snap, 'scsi0').subarray(0, 4 * MiB).equals(randomData(4 * MiB, 7))).toBe(true);
    const files = env.json<Array<{ filename: string }>>(['files', snap, '--store', 'local']).map((f) => f.filename).sort();
    expect(files).toEqual(['drive-scsi0.img.fidx', 'drive-virtio0.img.fidx', 'qemu-server.conf.blob']);
    const st = env.json<{ status: string; qmpstatus: string }>(['vm', 'status', '100']);
    expect(st).toMatchObject({ status: 'running', qmpstatus: 'running' });
    expect(readFileSync(join(env.home, 'guests/100.conf'), 'utf8')).not.toMatch(/^lock:/m);
    expect(readdirSync(join(env.home, 'run/qemu'))).not.toContain('100.fleece');
  });

  it('incremental: reads only the chunks written since the last backup, and restores bit-identical', async () => {
    await guestWrite(0xee, 4 * MiB + 100, 3000); // within chunk 1
    const r = gv('vzdump', '100', '--mode', 'suspend');
    expect(r.code, r.stderr).toBe(0);
    const log = taskLog(r.stderr);
    expect(log).toMatch(/virtio0: dirty-bitmap status: OK/);
    // chunk 1 (the new write) and chunk 23 (written during the previous backup, after its view).
    expect(log).toMatch(/virtio0: using fast incremental mode \(dirty bitmap\), 8\.00 MiB dirty of 96\.0 MiB total/);
    expect(log).toMatch(/virtio0: .*read 8\.00 MiB, reused 22 unchanged chunk\(s\)/);
    expect(log).toMatch(/scsi0: .*read 0 B, reused 4 unchanged chunk\(s\)/);
    expect(log).toMatch(/resumed VM 100: paused for \d+ ms/);
    expect(log).toMatch(/guest downtime: paused for \d+ ms/);
    const expected = Buffer.from(original);
    expected.fill(0xcd, SIZE - 2 * MiB, SIZE - MiB);
    expected.fill(0xee, 4 * MiB + 100, 4 * MiB + 3100);
    expect(restoreDisk(snapshots().at(-1)!, 'virtio0').equals(expected)).toBe(true);
    expect(env.json<{ qmpstatus: string }>(['vm', 'status', '100']).qmpstatus).toBe('running');
    const verify = gv('verify', '--store', 'local', snapshots().at(-1)!);
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
  });

  it('a pruned previous snapshot forces a full read and the log says why', async () => {
    // Two snapshots with different content (identical indexes would be as good a base as each other).
    for (let i = 0; i < 2; i++) {
      await guestWrite(0x10 + i, 8 * MiB, 4096);
      expect(gv('vzdump', '100', '--prune-backups', 'keep-all=1').code).toBe(0);
    }
    expect(gv('forget', snapshots().at(-1)!, '--store', 'local').code).toBe(0);
    const r = gv('vzdump', '100', '--prune-backups', 'keep-all=1');
    expect(r.code, r.stderr).toBe(0);
    expect(taskLog(r.stderr), r.stderr).toMatch(/virtio0: dirty-bitmap status: created new, full read: the last snapshot is not the one the dirty bitmap was synced to/);
  });

  it('a changed encryption (none → key A → key B) forces a full read and the log says why', () => {
    for (const k of ['a', 'b']) expect(gv('key', 'create', join(env.dir, `${k}.key`), '--kdf', 'none').code).toBe(0);
    const a = gv('vzdump', '100', '--keyfile', join(env.dir, 'a.key'));
    expect(a.code, a.stderr).toBe(0);
    expect(taskLog(a.stderr), a.stderr).toMatch(/virtio0: dirty-bitmap status: created new, full read: the encryption changed since vm\/100\/\S+ \(none → encrypt\)/);
    const b = gv('vzdump', '100', '--keyfile', join(env.dir, 'b.key'));
    expect(b.code, b.stderr).toBe(0);
    expect(taskLog(b.stderr), b.stderr).toMatch(/virtio0: dirty-bitmap status: created new, full read: the encryption key changed since/);
    const again = gv('vzdump', '100', '--keyfile', join(env.dir, 'b.key'));
    expect(taskLog(again.stderr), again.stderr).toMatch(/virtio0: dirty-bitmap status: OK/);
    const plain = gv('vzdump', '100');
    expect(taskLog(plain.stderr), plain.stderr).toMatch(/virtio0: dirty-bitmap status: created new, full read: the encryption changed since vm\/100\/\S+ \(encrypt → none\)/);
  });

  it('the dirty bitmap of a storage that was removed is removed at the next backup', async () => {
    const bitmaps = async (): Promise<string[]> => {
      const q = await QmpClient.connect(testQmp);
      try {
        const nodes = await q.execute<Array<{ 'node-name': string; 'dirty-bitmaps'?: Array<{ name: string }> }>>('query-named-block-nodes', { flat: true });
        return (nodes.find((n) => n['node-name'] === 'drive-virtio0')?.['dirty-bitmaps'] ?? []).map((b) => b.name).sort();
      } finally {
        await q.close();
      }
    };
    expect(gv('datastore', 'create', 'ds2', join(env.dir, 'ds2')).code).toBe(0);
    expect(gv('storage', 'add', 'datastore', 'elsewhere', '--datastore', 'ds2').code).toBe(0);
    expect(gv('vzdump', '100', '--storage', 'elsewhere').code).toBe(0);
    expect(await bitmaps()).toContain('guestvault-elsewhere');
    expect(gv('storage', 'remove', 'elsewhere').code).toBe(0);
    const r = gv('vzdump', '100');
    expect(r.code, r.stderr).toBe(0);
    expect(taskLog(r.stderr)).toMatch(/virtio0: removed dirty bitmap guestvault-elsewhere: its storage no longer exists/);
    expect(taskLog(r.stderr)).toMatch(/virtio0: dirty-bitmap status: OK/);
    expect(await bitmaps()).not.toContain('guestvault-elsewhere');
    expect(await bitmaps()).toContain('guestvault-local-store');
    // A datastore named directly (vzdump --storage ds2) keeps its bitmap.
    expect(gv('vzdump', '100', '--storage', 'ds2').code).toBe(0);
    expect(gv('vzdump', '100').code).toBe(0);
    expect(await bitmaps()).toContain('guestvault-ds2');
  });

  it('SIGKILL of QEMU during the backup: fails cleanly; the next backup is a full read and says why', async () => {
    const { done, out } = await vzdumpUntil(['100'], 'point-in-time view of');
    const pid = Number(readFileSync(join(env.home, 'run/qemu/100.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    const before = snapshots().length;
    expect(await done).toBe(1);
    expect(out.stderr).toMatch(/ERROR: Backup of VM 100 failed/);
    expect(snapshots().length).toBe(before);
    expect(readFileSync(join(env.home, 'guests/100.conf'), 'utf8')).not.toMatch(/^lock:/m);
    expect(env.json<{ status: string }>(['vm', 'status', '100']).status).toBe('stopped');
    // The VM is stopped now: the backup starts QEMU paused, reads, and stops it again.
    const r = gv('vzdump', '100');
    expect(r.code, r.stderr).toBe(0);
    expect(taskLog(r.stderr), r.stderr).toMatch(/VM 100 is not running: backing up in stop mode/);
    expect(taskLog(r.stderr), r.stderr).toMatch(/virtio0: dirty-bitmap status: created new, full read: the dirty bitmap is (inconsistent \(QEMU was not shut down cleanly\)|missing \(QEMU crashed before saving it\?\))/);
    expect(env.json<{ status: string }>(['vm', 'status', '100']).status).toBe('stopped');
    expect(gv('vm', 'start', '100').code).toBe(0);
  });

  it('SIGTERM during a suspend-mode backup: resumes the VM, tears the view down, exits 143', async () => {
    const { child, done, out } = await vzdumpUntil(['100', '--mode', 'suspend'], 'point-in-time view of');
    child.kill('SIGTERM');
    expect(await done, out.stderr).toBe(143);
    expect(out.stderr).toMatch(/received SIGTERM/);
    expect(env.json<{ qmpstatus: string }>(['vm', 'status', '100']).qmpstatus).toBe('running');
    expect(readFileSync(join(env.home, 'guests/100.conf'), 'utf8')).not.toMatch(/^lock:/m);
    const q = await QmpClient.connect(testQmp);
    try {
      expect(await q.execute<unknown[]>('query-block-jobs')).toEqual([]);
      expect(await q.execute<unknown[]>('query-block-exports')).toEqual([]);
    } finally {
      await q.close();
    }
    // The interrupted backup's changes are not lost: the next one is incremental again.
    const r = gv('vzdump', '100');
    expect(r.code, r.stderr).toBe(0);
    expect(taskLog(r.stderr), r.stderr).toMatch(/virtio0: dirty-bitmap status: (OK|created new)/);
  });

  it('hook script phases run in order with the Proxmox environment', () => {
    const hook = join(env.dir, 'hook.sh');
    const out = join(env.dir, 'hook.log');
    writeFileSync(hook, `#!/bin/sh\necho "$1 $2 $3 $STOREID $VMTYPE $HOSTNAME" >> ${out}\n`);
    chmodSync(hook, 0o755);
    const r = gv('vzdump', '100', '--script', hook);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8').trim().split('\n'), r.stderr).toEqual([
      'backup-start snapshot 100 local-store qemu web',
      'pre-stop snapshot 100 local-store qemu web',
      'pre-restart snapshot 100 local-store qemu web',
      'post-restart snapshot 100 local-store qemu web',
      'backup-end snapshot 100 local-store qemu web',
      'log-end snapshot 100 local-store qemu web',
    ]);
    // A hook may talk to the VM's QMP socket (one client at a time) in the phases before the
    // view is set up: the backup must not hold it yet, or each would wait for the other.
    const client = join(env.dir, 'qmp-query.cjs');
    writeFileSync(client, [
      `const s = require('node:net').createConnection(${JSON.stringify(join(env.home, 'run/qemu/100.qmp'))});`,
      "setTimeout(() => { console.error('no answer on the QMP socket'); process.exit(1); }, 5000).unref();",
      "let buf = '';",
      "s.on('data', (d) => {",
      '  if (!buf) s.write(\'{"execute":"qmp_capabilities"}\\n{"execute":"query-status"}\\n\');',
      '  buf += d;',
      '  const m = /"status": *"(\\w+)"/.exec(buf);',
      "  if (m) { console.log('QMP status from the hook: ' + m[1]); s.destroy(); }",
      '});',
    ].join('\n'));
    const qmpHook = join(env.dir, 'qmp-hook.sh');
    writeFileSync(qmpHook, `#!/bin/sh\n[ "$1" = pre-restart ] && exec '${process.execPath}' '${client}'\nexit 0\n`);
    chmodSync(qmpHook, 0o755);
    const q = gv('vzdump', '100', '--script', qmpHook);
    expect(q.code, q.stderr).toBe(0);
    expect(q.stderr).toMatch(/QMP status from the hook: running/);
    const failing = join(env.dir, 'fail.sh');
    writeFileSync(failing, '#!/bin/sh\n[ "$1" = backup-start ] && exit 3\nexit 0\n');
    chmodSync(failing, 0o755);
    const f = gv('vzdump', '100', '--script', failing);
    expect(f.code).toBe(1);
    expect(f.stderr).toMatch(/hook script .* failed in phase backup-start \(exit code 3\)/);
    expect(env.json<{ qmpstatus: string }>(['vm', 'status', '100']).qmpstatus).toBe('running');
  });
});

describe('jobs and storages', () => {
  it('a backup job selecting the VM backs it up as a task', () => {
    expect(gv('job', 'create', 'vms', '--schedule', 'daily', '--vmid', '100', '--storage', 'local-store', '--mode', 'suspend', '--notes-template', '{{guestname}} ({{vmid}})').code).toBe(0);
    const r = gv('job', 'run-now', 'vms');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/resumed VM 100: paused for \d+ ms/);
    expect(r.stdout).toMatch(/TASK OK/);
    const snaps = env.json<Array<{ snapshot: string; comment: string }>>(['snapshots', '--store', 'local', 'vm/100']);
    expect(snaps.at(-1)!.comment).toBe('web (100)');
    expect(gv('job', 'delete', 'vms').code).toBe(0);
  });

  it('a full datastore fails the backup with a clear error and leaves the VM as it was', () => {
    const mnt = join(env.dir, 'small');
    execFileSync('mkdir', ['-p', mnt]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', mnt]);
    try {
      expect(gv('datastore', 'create', 'small', join(mnt, 'ds')).code).toBe(0);
      const r = gv('vzdump', '100', '--storage', 'small');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/Backup of VM 100 failed - .*(full|no space)/i);
      expect(env.json<{ qmpstatus: string }>(['vm', 'status', '100']).qmpstatus).toBe('running');
      expect(readFileSync(join(env.home, 'guests/100.conf'), 'utf8')).not.toMatch(/^lock:/m);
      expect(env.json<Snap[]>(['snapshots', '--store', 'small'])).toEqual([]);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

describe('guest agent configured but not running', () => {
  it('logs why there is no freeze and goes on crash-consistent', () => {
    expect(gv('vm', 'set', '100', '--agent', '1').code).toBe(0);
    try {
      const started = Date.now();
      const r = gv('vzdump', '100');
      expect(r.code, r.stderr).toBe(0);
      expect(taskLog(r.stderr)).toMatch(/WARN: VM 100: skipping guest filesystem freeze - agent configured but not running\?/);
      expect(r.stderr).toMatch(/TASK WARNINGS: 1/);
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      expect(gv('vm', 'set', '100', '--agent', '0').code).toBe(0);
    }
  });
});

describe('guest agent that hangs on freeze (fake qemu-ga on the agent socket: a real one cannot be made to hang)', () => {
  it('the freeze watchdog gives up, thaws, and the backup goes on crash-consistent', async () => {
    const seen: string[] = [];
    const server = createServer((sock) => {
      let buf = '';
      sock.on('data', (b: Buffer) => {
        buf += b.toString('latin1').replace(/\xff/g, '');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const msg = JSON.parse(buf.slice(0, nl)) as { execute: string; arguments?: { id?: number } };
          buf = buf.slice(nl + 1);
          seen.push(msg.execute);
          if (msg.execute === 'guest-sync-delimited') sock.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(`{"return": ${msg.arguments!.id}}\n`)]));
          else if (msg.execute === 'guest-ping') sock.write('{"return": {}}\n');
          else if (msg.execute === 'guest-fsfreeze-status') sock.write('{"return": "thawed"}\n');
          else if (msg.execute === 'guest-fsfreeze-thaw') sock.write('{"return": 0}\n');
          // guest-fsfreeze-freeze: never answered.
        }
      });
    });
    const sockPath = join(env.home, 'run/qemu/100.qga');
    await new Promise<void>((resolve) => server.listen(sockPath, resolve));
    expect(gv('vm', 'set', '100', '--agent', '1').code).toBe(0);
    try {
      const started = Date.now();
      // Not env.run: a synchronous spawn would block this process, and with it the fake agent.
      const child = env.spawn(['vzdump', '100'], { env: { GUESTVAULT_FREEZE_WATCHDOG: '2' } });
      const r = { stderr: '', code: 0 };
      child.stdout.resume();
      child.stderr.on('data', (b: Buffer) => (r.stderr += b.toString()));
      r.code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 128)));
      expect(r.code, r.stderr).toBe(0);
      expect(taskLog(r.stderr), r.stderr).toMatch(/issuing guest agent command to freeze all filesystems/);
      expect(taskLog(r.stderr)).toMatch(/WARN: VM 100: unable to freeze guest filesystems: .*no reply within 2000 ms.*crash-consistent/);
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(seen).toContain('guest-fsfreeze-freeze');
      expect(seen.indexOf('guest-fsfreeze-thaw')).toBeGreaterThan(seen.indexOf('guest-fsfreeze-freeze'));
    } finally {
      expect(gv('vm', 'set', '100', '--agent', '0').code).toBe(0);
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('bad input', () => {
  it('unknown VMID, invalid VMID, conflicting options', () => {
    const r = gv('vzdump', '999');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/guest 999: unknown guest/);
    expect(gv('vzdump', 'abc').code).toBe(2);
    expect(gv('vzdump', '100', '--all').code).toBe(2);
    expect(gv('vzdump').code).toBe(2);
    const s = gv('vzdump', '100', '--storage', 'nosuch');
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/unknown storage 'nosuch'/);
  });

  it('a VM locked by another backup is refused and left as it was', () => {
    const file = join(env.home, 'guests/100.conf');
    const conf = readFileSync(file, 'utf8');
    writeFileSync(file, `${conf}lock: backup\n`);
    try {
      const r = gv('vzdump', '100');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/VM 100 is locked \(backup\)/);
      expect(readFileSync(file, 'utf8')).toBe(`${conf}lock: backup\n`);
      expect(env.json<{ status: string }>(['vm', 'status', '100']).status).toBe('running');
    } finally {
      writeFileSync(file, conf);
    }
  });

  it('invalid config lines, a disk on an unknown storage, QEMU missing, a stale QMP socket', () => {
    const file = join(env.home, 'guests/101.conf');
    writeFileSync(file, 'name: broken\nmemory: lots\n');
    const bad = gv('vzdump', '101');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/101\.conf:2: memory: invalid value 'lots'/);
    writeFileSync(file, 'name: other\nmemory: 256\nvirtio0: nosuch:101/vm-101-disk-0.qcow2,size=1G\n');
    const unknown = gv('vzdump', '101');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/virtio0 \(nosuch:101\/vm-101-disk-0\.qcow2\): unknown storage 'nosuch'/);
    expect(readFileSync(file, 'utf8')).not.toMatch(/^lock:/m);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(env.dir, 'x.qcow2'), '8M']);
    writeFileSync(file, `name: other\nmemory: 256\nvirtio0: local:0,import-from=${join(env.dir, 'x.qcow2')}\n`);
    writeFileSync(file, 'name: other\nmemory: 256\n');
    expect(gv('vm', 'set', '101', '--virtio0', `local:0,import-from=${join(env.dir, 'x.qcow2')}`).code).toBe(0);
    const missing = env.run(['vzdump', '101'], { env: { GUESTVAULT_QEMU: '/nonexistent/qemu-system-x86_64' } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/qemu-system-x86_64 not found \(install the Debian package qemu-system-x86\)/);
    expect(readFileSync(file, 'utf8')).not.toMatch(/^lock:/m);
    // A stale QMP socket and pid file of a QEMU that is gone: the VM counts as stopped and backs up.
    writeFileSync(join(env.home, 'run/qemu/101.qmp'), '');
    writeFileSync(join(env.home, 'run/qemu/101.pid'), '999999\n');
    expect(env.json<{ status: string }>(['vm', 'status', '101']).status).toBe('stopped');
    const ok = gv('vzdump', '101');
    expect(ok.code, ok.stderr).toBe(0);
    expect(env.json<{ status: string }>(['vm', 'status', '101']).status).toBe('stopped');
    expect(existsSync(join(env.home, 'run/qemu/101.pid'))).toBe(false);
  });
});
