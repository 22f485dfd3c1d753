/**
 * A vzdump run: every selected guest, one after another, into one storage; a failing guest does
 * not stop the others. Per guest: backup session, the guest's backup, finish, notes, protection,
 * prune by retention, and the hook phases backup-end / backup-abort / log-end.
 */
import { execFile } from 'node:child_process';
import { basename, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  acquireLock, BackupSession, formatSnapshot, type HeldLock, pruneGroup, setNotes, setProtected, summaryLine, type GroupRef,
} from '../datastore/index.js';
import { parseKeepOptions } from '../retention/index.js';
import { logSink, logTimestamp, type TaskLog } from '../tasks/index.js';
import type { CryptConfig } from '../formats/index.js';
import { activateStorage, parseCompress } from '../storage/index.js';
import { GuestvaultError } from '../errors.js';
import { guestvaultHome } from '../home.js';
import { recordBackupStatus } from './backup-status.js';
import { backupToArchive, checkProtectedLimit, pruneArchives, storageDest, writeArchiveSideFiles, type ArchiveDest } from './archive-backup.js';
import { checkWritableDir, loadKeyFileNonInteractive, openBackupStorage, type BackupStorage } from './backup-storage.js';
import { runHook } from './hook-script.js';
import { engines, type BackupTarget, type VzdumpSelection } from './targets.js';

export interface VzdumpOptions extends VzdumpSelection {
  storage?: string;
  'prune-backups'?: string;
  /** Prune after the backup (default true). */
  remove?: boolean;
  'notes-template'?: string;
  protected?: boolean;
  /** Minutes to wait for another backup of the same guest (default 180). */
  lockwait?: number;
  /** Encrypt with this key (default: the storage's `encryption-key`, if any). */
  crypt?: CryptConfig;
  /** vzdump's `--compress` (0, 1, gzip, lzo, zstd): archive compression; datastores ignore it (they compress chunks). */
  compress?: string;
  zstd?: number;
  pigz?: number;
  /** Write archives into this directory instead of a storage (no retention of a storage applies). */
  dumpdir?: string;
  /** Write the one guest's archive to standard output. */
  stdout?: boolean;
  /** I/O priority of the run: 0 (highest) … 7 best-effort, 8 idle (vzdump's ionice, default 7). */
  ionice?: number;
}

export interface VzdumpRunResult {
  failed: number;
  snapshots: string[];
}

export function renderNotes(template: string, t: BackupTarget, node: string): string {
  return template
    .replace(/\{\{guestname\}\}/g, t.name)
    .replace(/\{\{vmid\}\}/g, t.group.id)
    .replace(/\{\{node\}\}/g, node)
    .replace(/\{\{cluster\}\}/g, 'guestvault')
    .replace(/\\n/g, '\n')
    .replace(/\\\\/g, '\\');
}

/** Options that cannot go together, as vzdump checks them (before a task starts, and again by runVzdump). */
export function checkTargetOptions(opts: VzdumpOptions): void {
  if (opts.storage !== undefined && opts.dumpdir !== undefined) throw new GuestvaultError('E_USAGE', '--storage and --dumpdir are mutually exclusive: give one');
  if (opts.stdout && opts.storage !== undefined) throw new GuestvaultError('E_USAGE', '--stdout and --storage are mutually exclusive: the archive goes to standard output');
  if (opts.stdout && opts.dumpdir !== undefined) throw new GuestvaultError('E_USAGE', '--stdout and --dumpdir are mutually exclusive: the archive goes to standard output');
  if (opts.storage === undefined && (opts.dumpdir !== undefined || opts.stdout)) {
    if (opts.protected) throw new GuestvaultError('E_USAGE', '--protected needs --storage (a dump directory or standard output keeps no protection)');
    if (opts['notes-template'] !== undefined) throw new GuestvaultError('E_USAGE', '--notes-template needs --storage (a dump directory or standard output keeps no notes)');
  }
}

/** `--dumpdir`: an existing, writable directory. */
function dumpDirDest(path: string): ArchiveDest {
  const dir = resolve(path);
  checkWritableDir(dir, `dump directory ${dir}`);
  return { label: `dump directory ${dir}`, id: '', dumpDir: dir };
}

let appliedIonice: number | undefined;

/**
 * vzdump's ionice: best-effort class at priority N (0–7), or the idle class for 8; only a
 * warning if it cannot be set. Runs alongside the backup's start (waiting for it cost ~15 ms).
 */
function applyIonice(level: number | undefined, task: TaskLog): Promise<void> {
  // A daemon runs many backups: set the priority again only when it changes.
  if (level === undefined || level === appliedIonice) return Promise.resolve();
  const args = level > 7 ? ['-c3', '-p', String(process.pid)] : ['-c2', `-n${level}`, '-p', String(process.pid)];
  return new Promise((resolveDone) => {
    execFile('ionice', args, { encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (err) task.warn(`cannot set the I/O priority (ionice ${args.join(' ')}): ${stderr.trim() || err.message}`);
      else appliedIonice = level;
      resolveDone();
    });
  });
}

const NODE_LOCK = 'the node-wide vzdump lock';

/**
 * One vzdump run at a time on this node, as Proxmox's /var/run/vzdump.lock: a second run waits
 * up to `lockwait` minutes (0: not at all) and then fails naming the run that holds it.
 */
async function nodeLock(lockwait: number, task: TaskLog, signal?: AbortSignal): Promise<HeldLock> {
  const path = join(guestvaultHome(), 'run', 'vzdump.lock');
  const purpose = `vzdump task ${task.upid}`;
  const stale = (m: string) => task.log(m);
  const deadline = Date.now() + lockwait * 60_000;
  let said = false;
  for (;;) {
    try {
      const lock = acquireLock(path, purpose, NODE_LOCK, stale);
      if (said) task.log(`got ${NODE_LOCK}`);
      return lock;
    } catch (err) {
      if (!(err instanceof GuestvaultError) || err.code !== 'E_LOCKED') throw err;
      if (lockwait === 0) throw new GuestvaultError('E_LOCKED', `${err.message}; not waiting (lockwait 0)`);
      if (Date.now() >= deadline) throw new GuestvaultError('E_LOCK_TIMEOUT', `cannot get ${NODE_LOCK} within ${lockwait} minute(s): ${err.message}`);
      if (signal?.aborted) throw new GuestvaultError('E_INTERRUPTED', `interrupted while waiting for ${NODE_LOCK}`);
      if (!said) task.log(`waiting for ${NODE_LOCK} (up to ${lockwait} minute(s)): ${err.message.replace(/^the node-wide vzdump lock is locked: /, '')}`);
      said = true;
      await sleep(250);
    }
  }
}

/** `ctx.user` owns the backup groups written (the node's own auth id; the task says who asked). */
export async function runVzdump(opts: VzdumpOptions, task: TaskLog, ctx: { user: string; node: string; signal?: AbortSignal }): Promise<VzdumpRunResult> {
  checkTargetOptions(opts);
  const result: VzdumpRunResult = { failed: 0, snapshots: [] };
  const targets = engines.flatMap((e) => e.select(opts, ctx.node));
  const known = new Set(engines.flatMap((e) => e.guestIds(ctx.node)));
  const unknown = (opts.vmid ?? []).filter((id) => !known.has(id));
  if (opts.stdout && targets.length + unknown.length !== 1) {
    throw new GuestvaultError('E_USAGE', `--stdout writes the archive of exactly one guest; ${targets.length + unknown.length} are selected`);
  }
  if (opts.storage !== undefined && !opts.stdout && opts.dumpdir === undefined) await activateStorage(opts.storage);
  const target: BackupStorage | ArchiveDest = opts.stdout
    ? { label: 'standard output', id: '' }
    : opts.dumpdir !== undefined
      ? dumpDirDest(opts.dumpdir)
      : (() => {
          const s = openBackupStorage(opts.storage);
          return s.kind === 'dir' ? storageDest(s) : s;
        })();
  const ioniced = applyIonice(opts.ionice, task);
  const lock = await nodeLock(opts.lockwait ?? 180, task, ctx.signal).catch(async (err: unknown) => {
    await ioniced;
    throw err;
  });
  try {
    for (const id of unknown) {
      task.log(`ERROR: guest ${id}: unknown guest on node ${ctx.node} (no config ${id}.conf)`);
      result.failed++;
    }
    if (targets.length === 0 && result.failed === 0) task.warn('no guest selected on this node');
    if (!('kind' in target)) {
      if (opts.crypt) task.warn(`${target.label} takes archive files: encryption applies only to datastore storages; the archives are not encrypted`);
      for (const t of targets) {
        if (ctx.signal?.aborted) break;
        const path = await archiveOne(t, target, opts, task, ctx);
        if (path) result.snapshots.push(path);
        else result.failed++;
      }
      return result;
    }
    await datastoreRun(targets, target, opts, task, ctx, result);
    return result;
  } finally {
    await ioniced;
    lock.release();
  }
}

async function datastoreRun(targets: BackupTarget[], target: BackupStorage, opts: VzdumpOptions, task: TaskLog, ctx: { user: string; node: string; signal?: AbortSignal }, result: VzdumpRunResult): Promise<void> {
  const keep = opts['prune-backups'] ?? target.pruneBackups;
  const crypt = opts.crypt ?? (target.keyFile ? loadKeyFileNonInteractive(target.keyFile) : undefined);
  if (crypt) task.log(`encrypting with key ${crypt.fingerprintString()}`);
  for (const t of targets) {
    if (ctx.signal?.aborted) break;
    const group: GroupRef = { ns: [], ...t.group };
    const hooks = t.hook && opts.script
      ? { script: opts.script, mode: opts.mode, vmid: t.hook.vmid, env: { STOREID: target.id, VMTYPE: t.hook.vmtype, HOSTNAME: t.name, TARGET: `${target.store.name}:${t.group.type}/${t.group.id}` }, log: (l: string) => task.log(l) }
      : undefined;
    const started = Date.now();
    task.log(`Starting Backup of ${t.label} into storage '${target.id}' (datastore '${target.store.name}')`);
    try {
      const session = await BackupSession.start(target.store, group, {
        owner: ctx.user, crypt, notice: (m) => task.log(m), lockWaitMs: (opts.lockwait ?? 180) * 60_000, progress: logSink((l) => task.log(l)),
      });
      let snapName: string;
      try {
        const effective = await t.backup({ kind: 'datastore', session }, target.id, { log: (m) => task.log(m), warn: (m) => task.warn(`${t.label}: ${m}`), signal: ctx.signal });
        if (hooks && effective) hooks.mode = effective as typeof hooks.mode;
        const snap = await session.finish();
        snapName = formatSnapshot(snap);
        result.snapshots.push(snapName);
        for (const st of session.stats) if (t.group.type !== 'vm') task.log(`${t.label}: ${summaryLine(st)}`);
        task.log(`${t.label}: snapshot ${snapName} finished`);
        recordBackupStatus(t.group.type, t.group.id, { time: Math.floor(Date.now() / 1000), ok: true, storage: target.id, volid: `${target.id}:backup/${snapName}`, upid: task.upid });
        if (opts['notes-template']) await setNotes(target.store, snap, renderNotes(opts['notes-template'], t, ctx.node));
        if (opts.protected) setProtected(target.store, snap, true);
      } catch (err) {
        await session.abort();
        throw err;
      }
      if (keep && opts.remove !== false) {
        const entries = await pruneGroup(target.store, group, parseKeepOptions(keep), { dryRun: false });
        const removed = entries.filter((e) => e.removed);
        task.log(`${t.label}: prune older backups with retention ${keep}: ${removed.length} of ${entries.length} snapshot(s) removed`);
        for (const e of removed) task.log(`  removed ${e.snapshot}: ${e.reason}`);
      }
      if (hooks) await runHook({ ...hooks, env: { ...hooks.env, TARGET: `${target.store.name}:${snapName}` } }, 'backup-end');
      task.log(`Finished Backup of ${t.label} (${formatElapsed(Date.now() - started)})`);
    } catch (err) {
      result.failed++;
      const message = err instanceof Error ? err.message : String(err);
      task.log(`ERROR: Backup of ${t.label} failed - ${message}`);
      recordBackupStatus(t.group.type, t.group.id, { time: Math.floor(Date.now() / 1000), ok: false, error: message, storage: target.id, upid: task.upid });
      if (hooks) await runHook(hooks, 'backup-abort').catch((e: Error) => task.log(`ERROR: ${e.message}`));
    }
    if (hooks) await runHook(hooks, 'log-end').catch((e: Error) => task.log(`ERROR: ${e.message}`));
  }
}

/** One guest into an archive (dir storage, dump directory, stdout): its path, or undefined when it failed (logged). */
async function archiveOne(t: BackupTarget, target: ArchiveDest, opts: VzdumpOptions, task: TaskLog, ctx: { node: string; signal?: AbortSignal }): Promise<string | undefined> {
  const lines: string[] = [];
  const log = (m: string) => {
    task.log(m);
    lines.push(`${logTimestamp()} INFO: ${m}`);
  };
  const hooks = t.hook && opts.script
    ? {
        script: opts.script, mode: opts.mode, vmid: t.hook.vmid, log,
        env: { ...(target.id ? { STOREID: target.id } : {}), ...(target.dumpDir ? { DUMPDIR: target.dumpDir } : {}), VMTYPE: t.hook.vmtype, HOSTNAME: t.name },
      }
    : undefined;
  const started = Date.now();
  log(`Starting Backup of ${t.label} into ${target.label}${target.id && target.dumpDir ? ` (${target.dumpDir})` : ''}`);
  let path: string | undefined;
  try {
    if (opts.protected) checkProtectedLimit(target, 'qemu', t.group.id);
    const done = await backupToArchive(t, target, { compress: parseCompress(opts.compress), zstd: opts.zstd, pigz: opts.pigz }, {
      log, warn: (m) => task.warn(`${t.label}: ${m}`), signal: ctx.signal,
    });
    path = done.path;
    recordBackupStatus(t.group.type, t.group.id, {
      time: Math.floor(Date.now() / 1000), ok: true, storage: target.id || target.label, volid: target.id ? `${target.id}:backup/${basename(path)}` : path, upid: task.upid,
    });
    if (!target.dumpDir) {
      log(`Finished Backup of ${t.label} (${formatElapsed(Date.now() - started)})`);
      return path;
    }
    writeArchiveSideFiles(path, { ...(opts['notes-template'] ? { notes: renderNotes(opts['notes-template'], t, ctx.node) } : {}), protected: opts.protected });
    if (opts.protected) log(`${t.label}: archive marked protected`);
    const keep = opts['prune-backups'] ?? target.pruneBackups;
    if (keep && opts.remove !== false) {
      const entries = pruneArchives(target.dumpDir, 'qemu', t.group.id, keep);
      const removed = entries.filter((e) => e.removed);
      log(`${t.label}: prune older backups with retention ${keep}: ${removed.length} of ${entries.length} archive(s) removed`);
      for (const e of removed) log(`  removed ${e.file}: ${e.reason}`);
      for (const e of entries.filter((x) => !x.removed && x.reason.startsWith('protected'))) log(`  kept ${e.file}: ${e.reason}`);
    }
    if (hooks) await runHook({ ...hooks, env: { ...hooks.env, TARGET: path } }, 'backup-end');
    log(`Finished Backup of ${t.label} (${formatElapsed(Date.now() - started)})`);
    return path;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`ERROR: Backup of ${t.label} failed - ${message}`);
    recordBackupStatus(t.group.type, t.group.id, { time: Math.floor(Date.now() / 1000), ok: false, error: message, storage: target.id || target.label, upid: task.upid });
    if (hooks) await runHook(hooks, 'backup-abort').catch((e: Error) => log(`ERROR: ${e.message}`));
    return undefined;
  } finally {
    if (path && target.dumpDir) writeArchiveSideFiles(path, { log: lines });
    if (hooks) await runHook({ ...hooks, env: { ...hooks.env, ...(path ? { TARGET: path } : {}) } }, 'log-end').catch((e: Error) => task.log(`ERROR: ${e.message}`));
  }
}

function formatElapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${String(Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}
