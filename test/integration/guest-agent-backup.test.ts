/**
 * Backups of a real Linux guest with a real qemu-ga (the test guest, booted once and shared):
 * filesystem freeze in snapshot mode, crash-consistent without it, stop mode with an orderly
 * shutdown and restart, and QEMU killed while the guest is frozen.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliEnv, spawnUntil, stripTimestamps } from '../helpers/cli.js';
import { createTestGuest, fsckClean, needsRecovery, waitForAgent } from './test-guest.js';

const env = new CliEnv('gv-ga-');
const gv = (...args: string[]) => env.run(args);
const strip = stripTimestamps;

function lastSnapshot(vmid: string): string {
  return env.json<Array<{ snapshot: string }>>(['snapshots', '--store', 'local', `vm/${vmid}`]).at(-1)!.snapshot;
}

function restoreDisk(vmid: string): string {
  const out = join(env.dir, `r-${vmid}.raw`);
  const r = gv('restore', lastSnapshot(vmid), 'drive-virtio0.img', out, '--store', 'local', '--force');
  expect(r.code, r.stderr).toBe(0);
  return out;
}

beforeAll(async () => {
  expect(gv('init').code).toBe(0);
  createTestGuest(env, '200');
  expect(gv('vm', 'start', '200').code).toBe(0);
  await waitForAgent(env, '200');
}, 180_000);

afterAll(() => {
  gv('vm', 'stop', '200', '--skiplock');
  gv('vm', 'stop', '201', '--skiplock');
  env.cleanup();
});

describe('backups of a running Linux guest with qemu-ga', () => {
  it('snapshot mode freezes the guest filesystems: the restored ext4 needs no journal recovery', () => {
    const r = gv('vzdump', '200', '--mode', 'snapshot');
    expect(r.code, r.stderr).toBe(0);
    const log = strip(r.stderr);
    expect(log).toMatch(/issuing guest agent command to freeze all filesystems/);
    expect(log).toMatch(/guest filesystems thawed: frozen for \d+ ms/);
    expect(log).toMatch(/guest downtime: frozen for \d+ ms/);
    const image = restoreDisk('200');
    expect(needsRecovery(image)).toBe(false);
    expect(fsckClean(image)).toBe(true);
    expect(readFileSync(image).includes('tick ')).toBe(true);
    expect(env.json<{ qmpstatus: string }>(['vm', 'status', '200']).qmpstatus).toBe('running');
  });

  it('the same backup without the agent is only crash-consistent: the journal needs recovery', async () => {
    expect(gv('vm', 'set', '200', '--agent', '0').code).toBe(0);
    try {
      const r = gv('vzdump', '200', '--mode', 'snapshot');
      expect(r.code, r.stderr).toBe(0);
      expect(strip(r.stderr)).toMatch(/guest agent not enabled \(agent: 1\): no filesystem freeze, the backup is crash-consistent/);
      expect(needsRecovery(restoreDisk('200'))).toBe(true);
    } finally {
      expect(gv('vm', 'set', '200', '--agent', '1').code).toBe(0);
    }
    await waitForAgent(env, '200');
  });

  it('stop mode: orderly shutdown, the view is taken, the guest boots again at once; the disk is clean', async () => {
    const r = gv('vzdump', '200', '--mode', 'stop', '--stopwait', '2');
    expect(r.code, r.stderr).toBe(0);
    const log = strip(r.stderr);
    expect(log).toMatch(/stopping VM 200 \(orderly shutdown/);
    expect(log).toMatch(/VM 200 running again: stopped for \d+\.\d s/);
    expect(log).toMatch(/guest downtime: stopped for \d+\.\d s/);
    expect(log).not.toMatch(/freeze/);
    const image = restoreDisk('200');
    expect(needsRecovery(image)).toBe(false);
    expect(fsckClean(image)).toBe(true);
    expect(env.json<{ qmpstatus: string }>(['vm', 'status', '200']).qmpstatus).toBe('running');
    await waitForAgent(env, '200');
  });

  it('QEMU killed while the guest is frozen: the backup fails cleanly; the next one is a full read and says why', async () => {
    const { done, out } = await spawnUntil(env, ['vzdump', '200', '--mode', 'snapshot'], 'issuing guest agent command to freeze');
    process.kill(Number(readFileSync(join(env.home, 'run/qemu/200.pid'), 'utf8')), 'SIGKILL');
    expect(await done, out.stderr).toBe(1);
    expect(out.stderr).toMatch(/ERROR: Backup of VM 200 failed/);
    expect(readFileSync(join(env.home, 'guests/200.conf'), 'utf8')).not.toMatch(/^lock:/m);
    expect(env.json<{ status: string }>(['vm', 'status', '200']).status).toBe('stopped');
    const r = gv('vzdump', '200');
    expect(r.code, r.stderr).toBe(0);
    expect(strip(r.stderr)).toMatch(/virtio0: dirty-bitmap status: created new, full read: the dirty bitmap is (inconsistent|missing)/);
    // The guest was killed mid-write: its disk needs recovery, and fsck can repair it.
    expect(env.json<{ status: string }>(['vm', 'status', '200']).status).toBe('stopped');
    expect(gv('vm', 'start', '200').code).toBe(0);
    await waitForAgent(env, '200');
  });

  it('a restored VM boots and its guest agent answers', async () => {
    const r = gv('qmrestore', `local-store:backup/${lastSnapshot('200')}`, '201');
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(env.home, 'guests/201.conf'), 'utf8')).toMatch(/^virtio0: local:201\/vm-201-disk-0\.qcow2/m);
    expect(gv('vm', 'start', '201').code).toBe(0);
    expect(await waitForAgent(env, '201')).toBeLessThan(90_000);
    expect(gv('vm', 'shutdown', '201', '--timeout', '30').code).toBe(0);
    expect(env.json<{ status: string }>(['vm', 'status', '201']).status).toBe('stopped');
  });
});
