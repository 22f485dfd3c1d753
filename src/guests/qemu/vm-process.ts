/**
 * A VM's QEMU process: started daemonized (it outlives the command or daemon that started it),
 * found again through its pid file, and controlled over its QMP socket. Whether a VM runs is
 * decided by the process (pid file + /proc), never by the socket file alone: a QEMU that was
 * killed leaves its sockets behind.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { GuestvaultError, errnoCode } from '../../errors.js';
import { resolveVolume } from '../../storage/index.js';
import { vmConfigPath } from '../vm-store.js';
import type { VmConfig } from '../vm-config.js';
import { agentShutdown } from './agent-control.js';
import { attachableDisks, qemuArgs, type AttachedDisk } from './command-line.js';
import { QmpClient } from './qmp-client.js';
import { vmPaths } from './vm-paths.js';

export type VmRunState = 'stopped' | 'running' | 'paused' | 'prelaunch' | 'suspended' | 'shutdown' | 'unknown';

export interface VmStatus {
  vmid: string;
  /** `running` whenever the QEMU process exists, as `qm status` says. */
  status: 'running' | 'stopped';
  /** QEMU's own run state (`query-status`), when the process exists. */
  qmpstatus?: VmRunState;
  pid?: number;
}

export function qemuBinary(): string {
  return process.env.GUESTVAULT_QEMU ?? 'qemu-system-x86_64';
}

function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** The pid of the VM's QEMU if it is alive (and really is this VM's QEMU). */
export function vmPid(vmid: string): number | undefined {
  const paths = vmPaths(vmid);
  let pid: number;
  try {
    pid = Number(readFileSync(paths.pid, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const state = processState(pid);
  if (state === undefined || state === 'Z' || state === 'X') return undefined;
  try {
    // A recycled pid belongs to some other program: ours has our QMP socket on its command line.
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(paths.qmp)) return undefined;
  } catch {
    return undefined;
  }
  return pid;
}

export async function connectQmp(vmid: string, timeoutMs = 10_000): Promise<QmpClient> {
  const pid = vmPid(vmid);
  if (!pid) throw new GuestvaultError('E_VM_NOT_RUNNING', `VM ${vmid} is not running`);
  try {
    return await QmpClient.connect(vmPaths(vmid).qmp, { timeoutMs });
  } catch (err) {
    throw new GuestvaultError('E_QMP_CONNECT', `VM ${vmid} (pid ${pid}) does not answer on its QMP socket: ${(err as Error).message}`, { cause: err });
  }
}

/** Run `fn` with a fresh QMP connection, closed afterwards. */
export async function withQmp<T>(vmid: string, fn: (qmp: QmpClient) => Promise<T>): Promise<T> {
  const qmp = await connectQmp(vmid);
  try {
    return await fn(qmp);
  } finally {
    await qmp.close();
  }
}

export async function vmStatus(vmid: string): Promise<VmStatus> {
  const pid = vmPid(vmid);
  if (!pid) return { vmid, status: 'stopped' };
  try {
    const q = await QmpClient.connect(vmPaths(vmid).qmpStatus, { timeoutMs: 5000 });
    try {
      const st = await q.execute<{ status: string }>('query-status', undefined, { timeoutMs: 5000 });
      return { vmid, status: 'running', qmpstatus: st.status as VmRunState, pid };
    } finally {
      await q.close();
    }
  } catch {
    return { vmid, status: 'running', qmpstatus: 'unknown', pid };
  }
}

/** Resolve every disk's volume; a disk on an unknown storage fails here, before QEMU starts. */
/** Fails unless the VM is `want` (running or stopped). */
export async function requireVmState(vmid: string, want: 'running' | 'stopped'): Promise<void> {
  const st = await vmStatus(vmid);
  if (st.status !== want) throw new GuestvaultError(want === 'running' ? 'E_VM_NOT_RUNNING' : 'E_VM_RUNNING', `VM ${vmid} is ${st.status === 'running' ? 'running' : 'not running'}`);
}

export function attachDisks(conf: VmConfig): AttachedDisk[] {
  return attachableDisks(conf).map((spec) => {
    try {
      const volume = resolveVolume(spec.volid);
      if (!existsSync(volume.path)) throw new GuestvaultError('E_VOLUME_MISSING', `disk image ${volume.path} does not exist`);
      return { spec, volume };
    } catch (err) {
      if (err instanceof GuestvaultError) throw new GuestvaultError(err.code, `VM ${conf.vmid}: ${spec.key} (${spec.volid}): ${err.message}`);
      throw err;
    }
  });
}

/**
 * glibc malloc settings for QEMU: keep freed request buffers instead of handing them back to the
 * kernel. QEMU's NBD server allocates a buffer per read request (2 MiB from us, READ_PIECE in
 * src/nbd/client.ts); with glibc's defaults the heap is trimmed whenever a burst of requests
 * ends, so the next burst faults its buffers in again page by page. Measured on a 2 GiB VM
 * backup (2-core VM): 80-240 thousand page faults and 3.5-7 CPU-s of kernel time in QEMU,
 * against ~20 faults and ~1.3 CPU-s with these settings; QEMU's peak RSS in bench/vm.js stayed
 * at 41-45 MiB. mmap_threshold keeps allocations of up to 4 MiB in the heap (setting any of the two turns glibc's adaptive
 * threshold off, and a 2 MiB buffer would then be an mmap/munmap pair each time);
 * trim_threshold lets up to 64 MiB of free heap stay. An administrator's own GLIBC_TUNABLES wins.
 */
export const QEMU_GLIBC_TUNABLES = 'glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=67108864';

export function qemuEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.GLIBC_TUNABLES ? env : { ...env, GLIBC_TUNABLES: QEMU_GLIBC_TUNABLES };
}

/** Start QEMU for the VM (paused: QEMU runs, the guest CPU does not, state `prelaunch`). */
export async function startVm(conf: VmConfig, opts: { paused?: boolean } = {}): Promise<number> {
  const vmid = conf.vmid;
  if (vmPid(vmid)) throw new GuestvaultError('E_VM_RUNNING', `VM ${vmid} is already running`);
  const paths = vmPaths(vmid, true);
  const disks = attachDisks(conf);
  // Sockets and pid file of a QEMU that died are stale: QEMU would refuse to bind over them.
  cleanupRuntime(vmid);
  const args = qemuArgs(conf, disks, paths, { paused: opts.paused ?? false });
  const r = spawnSync(qemuBinary(), args, { encoding: 'utf8', timeout: 60_000, env: qemuEnv(process.env) });
  if (r.error) {
    if (errnoCode(r.error) === 'ENOENT') {
      throw new GuestvaultError('E_QEMU_MISSING', `cannot start VM ${vmid}: ${qemuBinary()} not found (install the Debian package qemu-system-x86)`);
    }
    throw new GuestvaultError('E_VM_START', `cannot start VM ${vmid}: ${r.error.message}`);
  }
  if (r.status !== 0) {
    const msg = r.stderr.trim().split('\n').filter(Boolean).pop() ?? `exit code ${r.status}`;
    throw new GuestvaultError('E_VM_START', `cannot start VM ${vmid} (config ${vmConfigPath(vmid)}): ${msg.replace(/^qemu-system-x86_64: /, '')}`);
  }
  const pid = vmPid(vmid);
  if (!pid) throw new GuestvaultError('E_VM_START', `VM ${vmid}: QEMU exited right after starting; see ${paths.serialLog}`);
  return pid;
}

/** Wait until the process is gone; false on timeout. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = processState(pid);
    if (state === undefined || state === 'Z' || state === 'X') return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Hard stop: QMP `quit` (the guest gets no say), SIGKILL if QEMU does not exit in time. */
export async function stopVm(vmid: string, timeoutMs = 10_000): Promise<void> {
  const pid = vmPid(vmid);
  if (!pid) return;
  try {
    await withQmp(vmid, (q) => q.execute('quit', undefined, { timeoutMs: 5000 }));
  } catch {
    // QMP not answering or already closing: the exit wait below decides.
  }
  if (!(await waitForExit(pid, timeoutMs))) {
    process.kill(pid, 'SIGKILL');
    await waitForExit(pid, 5000);
  }
  cleanupRuntime(vmid);
}

function cleanupRuntime(vmid: string): void {
  const paths = vmPaths(vmid);
  for (const f of [paths.qmp, paths.qmpStatus, paths.agent, paths.pid, paths.nbd]) rmSync(f, { force: true });
}

/**
 * Orderly shutdown: ACPI power button, and the guest agent's `guest-shutdown` when the agent is
 * configured. Waits up to `timeoutMs`; then `forceStop` stops QEMU hard, otherwise it fails.
 */
export async function shutdownVm(conf: VmConfig, opts: { timeoutMs: number; forceStop?: boolean; useAgent?: boolean; log?: (m: string) => void }): Promise<void> {
  const vmid = conf.vmid;
  const pid = vmPid(vmid);
  if (!pid) return;
  await withQmp(vmid, async (q) => {
    const st = await q.execute<{ status: string }>('query-status', undefined, { timeoutMs: 5000 });
    // A paused guest cannot react to the power button.
    if (st.status === 'paused' || st.status === 'prelaunch') await q.execute('cont');
    await q.execute('system_powerdown');
  });
  if (opts.useAgent) {
    await agentShutdown(vmid, opts.log);
  }
  if (await waitForExit(pid, opts.timeoutMs)) {
    cleanupRuntime(vmid);
    return;
  }
  if (!opts.forceStop) {
    throw new GuestvaultError('E_SHUTDOWN_TIMEOUT', `VM ${vmid} did not shut down within ${Math.round(opts.timeoutMs / 1000)} s (use --force-stop to stop it hard)`);
  }
  opts.log?.(`VM ${vmid} did not shut down within ${Math.round(opts.timeoutMs / 1000)} s: stopping it hard`);
  await stopVm(vmid);
}

/** Pause the guest CPUs (QMP `stop`). */
export async function pauseVm(vmid: string): Promise<void> {
  await withQmp(vmid, (q) => q.execute('stop'));
}

/** Resume paused guest CPUs (QMP `cont`). */
export async function resumeVm(vmid: string): Promise<void> {
  await withQmp(vmid, (q) => q.execute('cont'));
}
