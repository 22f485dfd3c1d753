/**
 * The small Linux test guest (scripts/build-test-guest.sh: Debian kernel, busybox, qemu-ga) as a
 * guestvault VM: an ext4 data disk the guest mounts on /mnt/data and appends to every 200 ms.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AgentClient } from '../../src/guests/index.js';
import { ROOT, type CliEnv } from '../helpers/cli.js';

export function testGuestDir(): string {
  const dir = process.env.GUESTVAULT_TEST_GUEST_DIR ?? '/var/cache/guestvault/test-guest';
  // Idempotent and quick when the cache is there (the test command builds it up front).
  if (!existsSync(join(dir, 'stamp'))) execFileSync('bash', [join(ROOT, 'scripts/build-test-guest.sh')], { stdio: 'ignore' });
  return dir;
}

/** Create VM `vmid` running the test guest with a fresh ext4 data disk of `sizeMiB`. */
export function createTestGuest(env: CliEnv, vmid: string, sizeMiB = 64): void {
  const dir = testGuestDir();
  const raw = join(env.dir, `guest-${vmid}.raw`);
  execFileSync('truncate', ['-s', `${sizeMiB}M`, raw]);
  execFileSync('mkfs.ext4', ['-q', '-F', raw]);
  const args = `-no-reboot -kernel ${join(dir, 'vmlinuz')} -initrd ${join(dir, 'initrd.img')} -append "console=ttyS0 panic=-1 quiet loglevel=3"`;
  const r = env.run(['vm', 'create', vmid, '--name', `guest${vmid}`, '--agent', '1', '--virtio0', `local:0,import-from=${raw}`, '--args', args]);
  if (r.code !== 0) throw new Error(`vm create ${vmid}: ${r.stderr}`);
}

/** Wait until the guest agent answers guest-ping (the guest boots in about 8 s under TCG). */
export async function waitForAgent(env: CliEnv, vmid: string, timeoutMs = 90_000): Promise<number> {
  const started = Date.now();
  const socket = join(env.home, 'run/qemu', `${vmid}.qga`);
  for (;;) {
    try {
      const agent = await AgentClient.connect(socket, { timeoutMs: 1000 });
      try {
        await agent.ping({ timeoutMs: 1000 });
        return Date.now() - started;
      } finally {
        await agent.close();
      }
    } catch (err) {
      if (Date.now() - started > timeoutMs) throw new Error(`guest agent of VM ${vmid} did not answer within ${timeoutMs} ms: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Does the ext4 image need journal recovery (i.e. was it taken while mounted, not frozen)? */
export function needsRecovery(image: string): boolean {
  const out = execFileSync('dumpe2fs', ['-h', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return /Filesystem features:.*needs_recovery/.test(out);
}

/** `e2fsck -fn`: true when the file system is consistent as it is (no replay, no repair). */
export function fsckClean(image: string): boolean {
  try {
    execFileSync('e2fsck', ['-fn', image], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
