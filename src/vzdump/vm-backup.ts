/**
 * One VM into a backup sink (a datastore session or a VMA archive), in stop, suspend or snapshot mode (Proxmox's order of
 * operations, reference §2.2). Whatever happens — success, error, timeout, SIGTERM — the guest is
 * thawed, resumed or restarted, the point-in-time view is torn down and the config lock removed
 * (each step in `finally`, each with a timeout), and the log states the guest's downtime.
 */
import {
  BITMAP_GRANULARITY, backupDisks, captureView, cleanupLeftovers, clearVmLock, connectQmp, exportView, formatVmConfig, loadVm,
  parseAgentOption, prepareView, queryBlockNodes, reachAgent, recoverTempBitmaps, removeBitmap, setVmLock, vmPid, withQmp,
  settleBitmaps, shutdownVm, startVm, stopVm, teardown, vmPaths, vmStatus, driveNode,
  type AgentClient, type BitmapPlan, type BlockNodeInfo, type QmpClient, type ViewDiskRequest, type VmConfig,
} from '../guests/index.js';
import { GuestvaultError } from '../errors.js';
import { loadStorages } from '../storage/storage-config.js';
import { loadDatastoreConfigs } from '../datastore/datastore-config.js';
import { formatSize } from '../tasks/index.js';
import { bitmapName, readBitmapState, writeBitmapRecords, type BitmapRecord } from './bitmap-state.js';
import { runHook, type HookContext } from './hook-script.js';
import { openNbdDisk, type NbdDiskReader } from './nbd-disk-reader.js';
import { RateLimiter } from './rate-limit.js';
import type { VmBackupSink } from './vm-sink.js';

export type BackupMode = 'stop' | 'suspend' | 'snapshot';

export interface VmBackupOptions {
  mode: BackupMode;
  /** Target storage id (names the dirty bitmaps). */
  storage: string;
  /** Minutes to wait for the guest to shut down in stop mode (vzdump's stopwait, default 10). */
  stopwait?: number;
  /** Read at most this many KiB/s (vzdump's bwlimit; 0 or unset: no limit). */
  bwlimit?: number;
  script?: string;
  log: (line: string) => void;
  warn: (line: string) => void;
  /** Thaw a freeze that lasts longer than this (default 60 s) and go on crash-consistent. */
  freezeWatchdogMs?: number;
  /** How long the guest agent gets to answer guest-ping before the freeze is skipped (default 3 s). */
  agentTimeoutMs?: number;
  /** Use dirty bitmaps for fast incremental backups (default true). */
  dirtyBitmaps?: boolean;
  signal?: AbortSignal;
}

export interface VmBackupResult {
  mode: BackupMode;
  downtime: string[];
  disks: Array<{ key: string; size: number; read: number; incremental: boolean; reason?: string; dirtyBytes?: number }>;
}

/** The config as backed up: no lock, no snapshot sections. */
export function configForBackup(conf: VmConfig): Buffer {
  const props = { ...conf.props };
  delete props.lock;
  return Buffer.from(formatVmConfig({ vmid: conf.vmid, props, description: conf.description }));
}

export async function backupVm(sink: VmBackupSink, vmid: string, opts: VmBackupOptions): Promise<VmBackupResult> {
  const log = opts.log;
  let conf = loadVm(vmid);
  conf = await setVmLock(vmid, 'backup');
  const result: VmBackupResult = { mode: opts.mode, downtime: [], disks: [] };
  const hooks: HookContext = {
    script: opts.script, mode: opts.mode, vmid,
    env: { STOREID: opts.storage, VMTYPE: 'qemu', HOSTNAME: conf.props.name ?? `vm${vmid}`, TARGET: sink.target },
    log,
  };
  const paths = vmPaths(vmid, true);
  // On the status socket: the VM's own QMP socket takes one client at a time, and the hooks
  // that run before the backup connects to it (backup-start, pre-stop, ...) may use it.
  const status = await vmStatus(vmid);
  const wasRunning = status.status === 'running';
  const wasPaused = wasRunning && (status.qmpstatus === 'paused' || status.qmpstatus === 'prelaunch' || status.qmpstatus === 'suspended');
  const mode: BackupMode = wasRunning ? opts.mode : 'stop';
  result.mode = mode;
  hooks.mode = mode;
  if (!wasRunning) log(`VM ${vmid} is not running: backing up in stop mode (QEMU starts paused only to read the disks)`);

  let qmp: QmpClient | undefined;
  let agent: AgentClient | undefined;
  let frozenAt: number | undefined;
  let freezeWatchdog: NodeJS.Timeout | undefined;
  let pausedAt: number | undefined;
  let stoppedAt: number | undefined;
  let startedForBackup = false;
  let viewKeys: string[] = [];
  let requests: ViewDiskRequest[] = [];
  let success = false;
  const readers: NbdDiskReader[] = [];
  // One limit for all disks of the VM, as vzdump's bwlimit.
  const limiter = opts.bwlimit ? new RateLimiter(opts.bwlimit * 1024) : undefined;
  if (limiter) log(`bandwidth limit: ${opts.bwlimit} KiB/s`);

  const thaw = async (why: string): Promise<void> => {
    if (frozenAt === undefined) return;
    clearTimeout(freezeWatchdog);
    const took = Date.now() - frozenAt;
    frozenAt = undefined;
    try {
      await agent!.fsfreezeThaw({ timeoutMs: 10_000 });
      result.downtime.push(`frozen for ${took} ms`);
      log(`guest filesystems thawed${why ? ` (${why})` : ''}: frozen for ${took} ms`);
    } catch (err) {
      opts.warn(`unable to thaw guest filesystems: ${(err as Error).message}`);
    }
  };
  // QEMU's QMP socket takes one client at a time: while the backup holds it, commands go through it.
  const qmpCommand = async (command: string): Promise<unknown> => (qmp && !qmp.closed ? qmp.execute(command) : withQmp(vmid, (q) => q.execute(command)));
  const resumeIfPaused = async (): Promise<void> => {
    if (pausedAt === undefined) return;
    const took = Date.now() - pausedAt;
    pausedAt = undefined;
    await qmpCommand('cont');
    result.downtime.push(`paused for ${took} ms`);
    log(`resumed VM ${vmid}: paused for ${took} ms`);
  };
  const restartIfStopped = async (): Promise<void> => {
    if (stoppedAt === undefined) return;
    const took = (Date.now() - stoppedAt) / 1000;
    stoppedAt = undefined;
    if (vmPid(vmid)) await qmpCommand('cont');
    else await startVm(loadVm(vmid));
    startedForBackup = false;
    result.downtime.push(`stopped for ${took.toFixed(1)} s`);
    log(`VM ${vmid} running again: stopped for ${took.toFixed(1)} s`);
  };

  // The view goes as soon as the last disk's last read has returned, while its last chunks are
  // still being stored (~10 ms of a small incremental's end), or else in `finally`. The
  // readers disconnect first: the export they read is about to go.
  let viewRemoved: Promise<void> | undefined;
  const removeView = (): Promise<void> => (viewRemoved ??= (async () => {
    const readersClosed = Promise.all(readers.map((r) => r.client.close().catch(() => undefined)));
    try {
      if (qmp && !qmp.closed) await teardown(qmp, paths, viewKeys, opts.warn);
    } catch (err) {
      opts.warn(`cannot remove the point-in-time view: ${(err as Error).message}`);
    }
    await readersClosed;
  })());

  const checkAbort = (): void => {
    if (opts.signal?.aborted) throw new GuestvaultError('E_INTERRUPTED', 'backup interrupted by signal');
  };
  try {
    const { included, excluded } = backupDisks(conf);
    for (const e of excluded) log(`exclude disk '${e.disk.key}' '${e.disk.volid}' (${e.reason})`);
    for (const d of included) log(`include disk '${d.key}' '${d.volid}'${d.options.size ? ` ${d.options.size}` : ''}`);
    await runHook(hooks, 'backup-start');
    if (mode === 'stop' && wasRunning) {
      await runHook(hooks, 'pre-stop');
      stoppedAt = Date.now();
      log(`stopping VM ${vmid} (orderly shutdown, waiting up to ${opts.stopwait ?? 10} min)`);
      await shutdownVm(conf, { timeoutMs: (opts.stopwait ?? 10) * 60_000, useAgent: parseAgentOption(conf.props.agent).enabled, log });
    } else if (mode === 'suspend' && !wasPaused) {
      await runHook(hooks, 'pre-stop');
    } else if (mode === 'snapshot') {
      await runHook(hooks, 'pre-stop');
      await runHook(hooks, 'pre-restart');
      await runHook(hooks, 'post-restart');
    }
    if (!vmPid(vmid)) {
      await startVm(loadVm(vmid), { paused: true });
      startedForBackup = true;
    }
    qmp ??= await connectQmp(vmid);
    const nodes = await cleanupLeftovers(qmp, paths, log);

    const keys = included.map((d) => d.key);
    // The teardown removes whatever of the view is there, so it knows the disks from here on.
    viewKeys = keys;
    // Fleecing images and NBD server (QEMU's work) while the bitmaps are planned (mostly ours).
    const preparing = prepareView(qmp, paths, keys, nodes);
    preparing.catch(() => undefined); // awaited below; not unhandled when planning fails first
    requests = await planBitmaps(qmp, sink, vmid, keys, opts, result, nodes);
    sink.prepare(result.disks.every((d) => d.incremental) ? result.disks.reduce((n, d) => n + (d.dirtyBytes ?? 0), 0) : undefined);
    const prepared = await preparing;

    // Everything above ran with the guest undisturbed; the pause covers only the point in time.
    if (mode === 'suspend' && wasRunning && !wasPaused) {
      log(`suspending VM ${vmid}`);
      pausedAt = Date.now();
      await qmp.execute('stop');
    }
    if (mode === 'snapshot' && wasRunning && !wasPaused) {
      ({ agent, frozenAt } = await freeze(conf, opts, log));
      if (frozenAt !== undefined) {
        freezeWatchdog = setTimeout(() => {
          opts.warn(`guest filesystems still frozen after ${(opts.freezeWatchdogMs ?? 60_000) / 1000} s: thawing them; this backup is only crash-consistent`);
          void thaw('watchdog');
        }, opts.freezeWatchdogMs ?? 60_000);
      }
    }
    try {
      await captureView(qmp, requests);
      log(`point-in-time view of ${keys.length} disk(s) taken`);
    } finally {
      await thaw('');
    }
    await resumeIfPaused();
    if (mode === 'stop' && wasRunning) {
      log('resuming VM again');
      await restartIfStopped();
    }
    checkAbort();
    const exported = await exportView(qmp, prepared.map((p, i) => ({ ...p, bitmap: requests[i]!.bitmap })));
    const records: Record<string, BitmapRecord> = {};
    await sink.begin(exported.map((d) => ({ key: d.key, size: d.size })), configForBackup(conf));
    for (const [i, disk] of exported.entries()) {
      checkAbort();
      const reader = await openNbdDisk(paths.nbd, disk.exportName, disk.dirtyContext, opts.signal, limiter);
      readers.push(reader);
      if (i === exported.length - 1) reader.readsDone = () => void removeView();
      const info = result.disks[i]!;
      const incremental = disk.dirtyContext !== undefined && info.incremental;
      log(`${disk.key}: ${incremental ? `using fast incremental mode (dirty bitmap), ${formatSize(reader.changedCount * BITMAP_GRANULARITY)} dirty of ${formatSize(disk.size)} total` : `reading ${formatSize(disk.size)}`}`
        + `; ${formatSize(reader.zeroCount * BITMAP_GRANULARITY)} zero data not read`);
      const written = await sink.writeDisk({ key: disk.key, size: disk.size }, reader, incremental);
      info.read = written.readBytes;
      log(`${disk.key}: ${written.summary}`);
      const plan = requests[i]!.bitmap;
      if (plan.action !== 'none' && written.csum) records[disk.key] = { bitmap: plan.name, csum: written.csum, size: disk.size, snapshot: sink.time };
    }
    await sink.end();
    log(`guest downtime: ${result.downtime.length ? result.downtime.join(', ') : mode === 'stop' && !wasRunning ? 'none (the VM was not running)' : 'none (the guest ran throughout)'}`);
    success = true;
    writeBitmapRecords(vmid, opts.storage, records);
    return result;
  } finally {
    await thaw('cleanup');
    await agent?.close().catch(() => undefined);
    // The export holds the handed-over bitmap busy: remove the view first.
    await removeView();
    if (qmp && !qmp.closed) {
      await settleBitmaps(qmp, requests, success).catch((err: Error) => opts.warn(`dirty bitmaps: ${err.message}; the next backup reads everything`));
    }
    await resumeIfPaused().catch((err: Error) => opts.warn(`cannot resume VM ${vmid}: ${err.message}`));
    await restartIfStopped().catch((err: Error) => opts.warn(`cannot restart VM ${vmid}: ${err.message}`));
    await qmp?.close();
    if (startedForBackup) {
      // Only stop what we started: if the guest began running meanwhile, leave it.
      const st = await vmStatus(vmid);
      if (st.qmpstatus === 'prelaunch' || st.qmpstatus === 'paused' || st.qmpstatus === 'unknown') await stopVm(vmid).catch((err: Error) => opts.warn(`cannot stop VM ${vmid}: ${err.message}`));
      else log(`VM ${vmid} status changed during the backup (${st.qmpstatus}): leaving it running`);
    }
    await clearVmLock(vmid, 'backup').catch((err: Error) => opts.warn(`cannot remove the backup lock of VM ${vmid}: ${err.message}`));
  }
}

/** Freeze the guest filesystems when the agent is configured and answers; else log why not. */
async function freeze(conf: VmConfig, opts: VmBackupOptions, log: (m: string) => void): Promise<{ agent?: AgentClient; frozenAt?: number }> {
  const agentOpt = parseAgentOption(conf.props.agent);
  if (!agentOpt.enabled) {
    log('guest agent not enabled (agent: 1): no filesystem freeze, the backup is crash-consistent');
    return {};
  }
  if (!agentOpt.freezeFs) {
    log('skipping guest filesystem freeze - disabled in VM options');
    return {};
  }
  const { agent, reason } = await reachAgent(conf.vmid, opts.agentTimeoutMs ?? 3000);
  if (!agent) {
    opts.warn(`skipping guest filesystem freeze - agent configured but not running? (${reason})`);
    return {};
  }
  try {
    if ((await agent.fsfreezeStatus({ timeoutMs: 5000 })) === 'frozen') {
      log('guest filesystems already frozen: not freezing again');
      return { agent };
    }
    log('issuing guest agent command to freeze all filesystems');
    const t = Date.now();
    await agent.fsfreezeFreeze({ timeoutMs: opts.freezeWatchdogMs ?? 60_000 });
    return { agent, frozenAt: t };
  } catch (err) {
    // A freeze that failed half-way may still have frozen something: thaw to be sure.
    opts.warn(`unable to freeze guest filesystems: ${(err as Error).message}; the backup is crash-consistent`);
    await agent.fsfreezeThaw({ timeoutMs: 10_000 }).catch(() => undefined);
    return { agent };
  }
}

/** Names of the bitmaps of every target there is: vzdump --storage takes a storage of storage.cfg or a datastore's name. */
function liveBitmapNames(): Set<string> {
  return new Set([...loadStorages().map((s) => s.id), ...loadDatastoreConfigs().map((d) => d.name)].map(bitmapName));
}

/**
 * Dirty bitmaps kept for targets that no longer exist: QEMU updates every bitmap on every guest
 * write, and a persistent one stays in the qcow2 for good (one disk here had 39 after storages
 * came and went). Busy ones (in use right now) are left for the next backup, with a warning.
 */
async function removeStaleBitmaps(qmp: QmpClient, key: string, names: readonly string[], live: ReadonlySet<string>, opts: VmBackupOptions): Promise<void> {
  for (const name of names) {
    if (!name.startsWith(bitmapName('')) || live.has(name) || (name.endsWith('-t') && live.has(name.slice(0, -2)))) continue;
    try {
      await removeBitmap(qmp, key, name);
      opts.log(`${key}: removed dirty bitmap ${name}: its storage no longer exists`);
    } catch (err) {
      opts.warn(`${key}: cannot remove the dirty bitmap ${name} of a storage that no longer exists: ${(err as Error).message}`);
    }
  }
}

/**
 * Decide per disk whether its dirty bitmap can be trusted for an incremental read; log why not.
 * Fills `result.disks` in the order of `keys`.
 */
async function planBitmaps(qmp: QmpClient, sink: VmBackupSink, vmid: string, keys: readonly string[], opts: VmBackupOptions, result: VmBackupResult, blockNodes: Map<string, BlockNodeInfo>): Promise<ViewDiskRequest[]> {
  const name = bitmapName(opts.storage);
  const state = readBitmapState(vmid)[opts.storage] ?? {};
  const live = liveBitmapNames();
  const out: ViewDiskRequest[] = [];
  for (const key of keys) {
    let nodes = blockNodes;
    if (await recoverTempBitmaps(qmp, key, name, nodes, opts.log)) nodes = await queryBlockNodes(qmp);
    const node = nodes.get(driveNode(key));
    if (!node) throw new GuestvaultError('E_VM_DISK', `QEMU has no block node for disk ${key}`);
    await removeStaleBitmaps(qmp, key, node.bitmaps.map((b) => b.name), live, opts);
    const existing = node.bitmaps.find((b) => b.name === name);
    const rec = state[key];
    const persistent = node.format === 'qcow2';
    let plan: BitmapPlan;
    let reason: string | undefined;
    if (opts.dirtyBitmaps === false || !sink.incremental) {
      plan = { action: 'none' };
      reason = sink.incremental ? 'dirty bitmaps disabled' : 'full read (an archive file holds every block)';
    } else if (!existing) {
      plan = { action: 'new', name, persistent };
      reason = rec
        ? (persistent ? 'the dirty bitmap is missing (QEMU crashed before saving it?)' : 'the VM was restarted since the last backup (a raw disk keeps its dirty bitmap only while QEMU runs)')
        : 'first backup with a dirty bitmap';
    } else if (existing.inconsistent) {
      await removeBitmap(qmp, key, name);
      plan = { action: 'new', name, persistent };
      reason = 'the dirty bitmap is inconsistent (QEMU was not shut down cleanly)';
    } else {
      const prev = sink.previousDisk(key, node.size);
      const why = !rec ? 'no record of the backup the dirty bitmap belongs to'
        : 'reason' in prev ? prev.reason
          : prev.csum !== rec.csum ? 'the last snapshot is not the one the dirty bitmap was synced to (pruned, removed or made by another backup)'
            : undefined;
      if (why) {
        await removeBitmap(qmp, key, name);
        plan = { action: 'new', name, persistent };
        reason = why;
      } else {
        plan = { action: 'use', name };
      }
    }
    opts.log(`${key}: dirty-bitmap status: ${plan.action === 'use' ? 'OK' : plan.action === 'new' ? `created new, full read: ${reason}` : reason}`);
    result.disks.push({ key, size: node.size, read: 0, incremental: plan.action === 'use', ...(reason ? { reason } : {}), ...(plan.action === 'use' ? { dirtyBytes: existing!.count } : {}) });
    out.push({ key, bitmap: plan });
  }
  return out;
}
