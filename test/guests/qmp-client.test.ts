import { execFileSync, execSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, QmpClient, QmpCommandError, type QmpEvent } from '../../src/guests/index.js';
import { expectCode } from '../helpers/expect-code.js';

let dir: string;
let qemu: ChildProcess;
let qmpSock: string;
let qgaSock: string;
let qemuStderr = '';
let client: QmpClient;
const events: QmpEvent[] = [];

function ensureQemu(): void {
  try {
    execSync('command -v qemu-system-x86_64 && command -v qemu-img', { stdio: 'ignore' });
  } catch {
    execSync('apt-get install -y --no-install-recommends qemu-system-x86 qemu-utils', { stdio: 'ignore' });
  }
}

beforeAll(async () => {
  ensureQemu();
  dir = await mkdtemp(path.join(tmpdir(), 'gv-qmp-'));
  qmpSock = path.join(dir, 'qmp.sock');
  qgaSock = path.join(dir, 'qga.sock');
  qemu = spawn(
    'qemu-system-x86_64',
    [
      '-S',
      '-nodefaults',
      '-display',
      'none',
      '-machine',
      'q35,accel=tcg',
      '-m',
      '64',
      '-qmp',
      `unix:${qmpSock},server=on,wait=off`,
      '-chardev',
      `socket,id=qga0,path=${qgaSock},server=on,wait=off`,
      '-device',
      'virtio-serial-pci,id=vser0',
      '-device',
      'virtserialport,chardev=qga0,name=org.qemu.guest_agent.0',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  qemu.stderr!.on('data', (b: Buffer) => (qemuStderr += b.toString()));
  for (let i = 0; i < 400 && !(existsSync(qmpSock) && existsSync(qgaSock)); i++) {
    if (qemu.exitCode !== null) throw new Error(`qemu exited: ${qemuStderr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  if (!existsSync(qmpSock)) throw new Error(`qemu did not create ${qmpSock}: ${qemuStderr}`);
});

afterAll(async () => {
  await client?.close().catch(() => undefined);
  if (qemu && qemu.exitCode === null && qemu.signalCode === null) {
    qemu.kill('SIGCONT');
    qemu.kill('SIGKILL');
    await new Promise((r) => qemu.once('exit', r));
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('QmpClient against a real QEMU (no guest OS, TCG)', { timeout: 20_000 }, () => {
  it('rejects a missing socket with E_QMP_CONNECT naming the socket', async () => {
    const missing = path.join(dir, 'nope.sock');
    const err = await expectCode(QmpClient.connect(missing, { timeoutMs: 2000 }), 'E_QMP_CONNECT');
    expect(err.message).toContain(missing);
  });

  it('reads the greeting and negotiates capabilities', async () => {
    client = await QmpClient.connect(qmpSock, { timeoutMs: 10_000 });
    client.on('event', (e) => events.push(e));
    expect(client.greeting.version.qemu.major).toBeGreaterThanOrEqual(7);
    expect(Array.isArray(client.greeting.capabilities)).toBe(true);
    // Only accepted after qmp_capabilities.
    const version = await client.execute<{ qemu: { major: number } }>('query-version');
    expect(version.qemu.major).toBe(client.greeting.version.qemu.major);
  });

  it('controls the run state: prelaunch → cont (RESUME) → stop (STOP)', async () => {
    expect(await client.execute('query-status')).toMatchObject({ status: 'prelaunch', running: false });

    const resumed = client.waitForEvent('RESUME', undefined, 5000);
    await client.execute('cont');
    const ev = await resumed;
    expect(ev.timestamp.seconds).toBeGreaterThan(0);
    expect(await client.execute('query-status')).toMatchObject({ status: 'running', running: true });

    const stopped = client.waitForEvent('STOP', undefined, 5000);
    await client.execute('stop');
    await stopped;
    expect(await client.execute('query-status')).toMatchObject({ status: 'paused', running: false });
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['RESUME', 'STOP']));
  });

  it('waitForEvent honours the predicate and times out with E_QMP_TIMEOUT', async () => {
    const reset = client.waitForEvent('RESET', (e) => e.data.reason === 'host-qmp-system-reset', 5000);
    await client.execute('system_reset');
    expect((await reset).data).toMatchObject({ guest: false });
    const err = await expectCode(client.waitForEvent('NO_SUCH_EVENT', undefined, 100), 'E_QMP_TIMEOUT');
    expect(err.message).toContain('NO_SUCH_EVENT');
  });

  it('matches several commands in flight by id', async () => {
    const [status, version, block, status2] = await Promise.all([
      client.execute<{ status: string }>('query-status'),
      client.execute<{ qemu: { major: number } }>('query-version'),
      client.execute<unknown[]>('query-block'),
      client.execute<{ status: string }>('query-status'),
    ]);
    // system_reset of a stopped VM puts it back into prelaunch (QEMU 7.2); either way not running.
    expect(['paused', 'prelaunch']).toContain(status.status);
    expect(status2.status).toBe(status.status);
    expect(version.qemu.major).toBeGreaterThanOrEqual(7);
    expect(Array.isArray(block)).toBe(true);
  });

  it('turns an error reply into E_QMP_COMMAND with the class and description', async () => {
    const err = await expectCode(client.execute('no-such-command'), 'E_QMP_COMMAND');
    expect(err).toBeInstanceOf(QmpCommandError);
    expect((err as QmpCommandError).errorClass).toBe('CommandNotFound');
    expect(err.message).toContain('no-such-command');
    expect(err.message).toContain('CommandNotFound');
    expect(err.message).toContain(qmpSock);
    // The connection is still usable.
    expect(await client.execute('query-status')).toMatchObject({ running: false });
  });

  it('adds a qcow2 node with blockdev-add and lists it', async () => {
    const image = path.join(dir, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '16M']);
    await client.execute('blockdev-add', { driver: 'file', filename: image, 'node-name': 'file0' });
    await client.execute('blockdev-add', { driver: 'qcow2', file: 'file0', 'node-name': 'drive0' });
    const nodes = await client.execute<Array<{ 'node-name': string; drv: string; file: string }>>('query-named-block-nodes');
    const drive = nodes.find((n) => n['node-name'] === 'drive0');
    expect(drive).toMatchObject({ drv: 'qcow2', file: image });
    expect(nodes.find((n) => n['node-name'] === 'file0')).toMatchObject({ drv: 'file' });
    const err = await expectCode(
      client.execute('blockdev-add', { driver: 'qcow2', file: 'file0', 'node-name': 'drive0' }),
      'E_QMP_COMMAND',
    );
    expect((err as QmpCommandError).errorClass).toBe('GenericError');
  });

  it('times out a command while QEMU is SIGSTOPped, ignores the late reply and carries on', async () => {
    qemu.kill('SIGSTOP');
    try {
      const t0 = Date.now();
      const err = await expectCode(client.execute('query-status', undefined, { timeoutMs: 200 }), 'E_QMP_TIMEOUT');
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(err.message).toContain('query-status');
      expect(err.message).toContain(qmpSock);
    } finally {
      qemu.kill('SIGCONT');
    }
    const [a, b] = await Promise.all([client.execute<{ qemu: unknown }>('query-version'), client.execute<{ status: string }>('query-status')]);
    expect(a.qemu).toBeDefined();
    expect(['paused', 'prelaunch']).toContain(b.status);
  });

  it('AgentClient.connect times out clearly when no guest agent runs', async () => {
    const t0 = Date.now();
    const err = await expectCode(AgentClient.connect(qgaSock, { timeoutMs: 1500 }), 'E_AGENT_TIMEOUT');
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(3000);
    expect(err.message).toContain(`guest agent not responding on ${qgaSock}`);
    expect(err.message).toContain('is qemu-guest-agent running in the guest?');
  });

  it('AgentClient.connect to a missing socket fails with E_AGENT_CONNECT', async () => {
    const missing = path.join(dir, 'nope-qga.sock');
    const err = await expectCode(AgentClient.connect(missing, { timeoutMs: 1000 }), 'E_AGENT_CONNECT');
    expect(err.message).toContain(missing);
  });

  it('quit: SHUTDOWN event, then pending and later commands fail with E_QMP_CLOSED', async () => {
    const shutdown = client.waitForEvent('SHUTDOWN', undefined, 5000);
    const never = client.waitForEvent('NEVER_COMES', undefined, 10_000);
    const closed = new Promise((r) => client.on('close', r));
    qemu.kill('SIGSTOP');
    const quit = client.execute('quit');
    const pending = client.execute('query-status', undefined, { timeoutMs: 10_000 });
    qemu.kill('SIGCONT');
    await quit;
    expect((await shutdown).data).toMatchObject({ guest: false, reason: 'host-qmp-quit' });
    // Queued behind quit: QEMU exits without answering it.
    await expectCode(pending, 'E_QMP_CLOSED');
    await closed;
    await expectCode(never, 'E_QMP_CLOSED');
    const err = await expectCode(client.execute('query-status'), 'E_QMP_CLOSED');
    expect(err.message).toContain(qmpSock);
    expect(client.closed).toBe(true);
    await new Promise((r) => (qemu.exitCode !== null ? r(null) : qemu.once('exit', r)));
    expect(qemu.exitCode).toBe(0);
  });
});
