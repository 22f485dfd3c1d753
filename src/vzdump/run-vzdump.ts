/**
 * A vzdump run: every selected guest, one after another, into one storage; a failing guest does
 * not stop the others. Per guest: backup session, the guest's backup, finish, notes, protection,
 * prune by retention, and the hook phases backup-end / backup-abort / log-end.
 */
import {
  BackupSession, formatSnapshot, pruneGroup, setNotes, setProtected, summaryLine, type GroupRef,
} from '../datastore/index.js';
import { parseKeepOptions } from '../retention/index.js';
import { logSink, logTimestamp, type TaskLog } from '../tasks/index.js';
import type { CryptConfig } from '../formats/index.js';
import { parseCompress } from '../storage/index.js';
import { backupToArchive, checkProtectedLimit, pruneArchives, writeArchiveSideFiles } from './archive-backup.js';
import { loadKeyFileNonInteractive, openBackupStorage, type DirBackupStorage } from './backup-storage.js';
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
  /** Archive compression on a dir storage (ignored by datastores, which compress chunks). */
  /** vzdump's `--compress` value (0, 1, gzip, lzo, zstd). */
  compress?: string;
  zstd?: number;
  pigz?: number;
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

export async function runVzdump(opts: VzdumpOptions, task: TaskLog, ctx: { user: string; node: string; signal?: AbortSignal }): Promise<VzdumpRunResult> {
  const result: VzdumpRunResult = { failed: 0, snapshots: [] };
  const target = openBackupStorage(opts.storage);
  const targets = engines.flatMap((e) => e.select(opts, ctx.node));
  const known = new Set(engines.flatMap((e) => e.guestIds(ctx.node)));
  for (const id of opts.vmid ?? []) {
    if (!known.has(id)) {
      task.log(`ERROR: guest ${id}: unknown guest on node ${ctx.node} (no config ${id}.conf)`);
      result.failed++;
    }
  }
  if (targets.length === 0 && result.failed === 0) task.warn('no guest selected on this node');
  if (target.kind === 'dir') {
    if (opts.crypt) task.warn(`storage '${target.id}' holds archive files: encryption applies only to datastore storages; the archives are not encrypted`);
    for (const t of targets) {
      if (ctx.signal?.aborted) break;
      const path = await archiveOne(t, target, opts, task, ctx);
      if (path) result.snapshots.push(path);
      else result.failed++;
    }
    return result;
  }
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
      task.log(`ERROR: Backup of ${t.label} failed - ${err instanceof Error ? err.message : String(err)}`);
      if (hooks) await runHook(hooks, 'backup-abort').catch((e: Error) => task.log(`ERROR: ${e.message}`));
    }
    if (hooks) await runHook(hooks, 'log-end').catch((e: Error) => task.log(`ERROR: ${e.message}`));
  }
  return result;
}

/** One guest into a dir storage: the archive's path, or undefined when it failed (logged). */
async function archiveOne(t: BackupTarget, target: DirBackupStorage, opts: VzdumpOptions, task: TaskLog, ctx: { node: string; signal?: AbortSignal }): Promise<string | undefined> {
  const lines: string[] = [];
  const log = (m: string) => {
    task.log(m);
    lines.push(`${logTimestamp()} INFO: ${m}`);
  };
  const hooks = t.hook && opts.script
    ? { script: opts.script, mode: opts.mode, vmid: t.hook.vmid, env: { STOREID: target.id, DUMPDIR: target.dumpDir, VMTYPE: t.hook.vmtype, HOSTNAME: t.name }, log }
    : undefined;
  const started = Date.now();
  log(`Starting Backup of ${t.label} into storage '${target.id}' (${target.dumpDir})`);
  let path: string | undefined;
  try {
    if (opts.protected) checkProtectedLimit(target, 'qemu', t.group.id);
    const done = await backupToArchive(t, target, { compress: parseCompress(opts.compress), zstd: opts.zstd, pigz: opts.pigz }, {
      log, warn: (m) => task.warn(`${t.label}: ${m}`), signal: ctx.signal,
    });
    path = done.path;
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
    log(`ERROR: Backup of ${t.label} failed - ${err instanceof Error ? err.message : String(err)}`);
    if (hooks) await runHook(hooks, 'backup-abort').catch((e: Error) => log(`ERROR: ${e.message}`));
    return undefined;
  } finally {
    if (path) writeArchiveSideFiles(path, { log: lines });
    if (hooks) await runHook({ ...hooks, env: { ...hooks.env, ...(path ? { TARGET: path } : {}) } }, 'log-end').catch((e: Error) => task.log(`ERROR: ${e.message}`));
  }
}

function formatElapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${String(Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}
