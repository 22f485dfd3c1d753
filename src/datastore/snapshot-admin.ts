import { existsSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GuestvaultError, errnoCode } from '../errors.js';
import { MANIFEST_BLOB_NAME, type Manifest } from '../formats/index.js';
import type { Datastore } from './datastore.js';
import { acquireLockWait, liveHolder } from './lock-file.js';
import { formatGroup, formatSnapshot, groupPath, snapshotPath, type GroupRef, type SnapshotRef } from './names.js';

/** Turn errors of a read-only or inaccessible datastore into a clear typed error. */
export function writeError(store: Datastore, what: string, err: unknown): never {
  const code = errnoCode(err);
  if (code === 'EROFS') throw new GuestvaultError('E_READ_ONLY', `datastore '${store.name}' is read-only: cannot ${what}`);
  if (code === 'EACCES' || code === 'EPERM') throw new GuestvaultError('E_PERMISSION', `no permission to ${what} in datastore '${store.name}'`);
  throw err;
}

/** The snapshot a running backup of this group writes and the one it builds on (if any). */
export function runningBackup(store: Datastore, g: GroupRef): { pid: number; snapshot?: number; base?: number } | undefined {
  const h = liveHolder(store.groupLockPath(g));
  if (!h) return undefined;
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  return { pid: h.pid, snapshot: num(h.extra?.snapshot), base: num(h.extra?.base) };
}

/** Serialises prune/forget/notes of one group (short operations; they wait up to 10 s). */
export function groupMaintenanceLock(store: Datastore, g: GroupRef, purpose: string) {
  return acquireLockWait(store.abs(join('.locks', `${groupPath(g)}.maint.lck`)), purpose, `group ${formatGroup(g)}`, 10_000);
}

export function isProtected(store: Datastore, s: SnapshotRef): boolean {
  return existsSync(join(store.snapshotDir(s), '.protected'));
}

/**
 * Remove one snapshot: the manifest first (so it stops being a snapshot at once), then the rest.
 * Chunks stay until garbage collection. Refuses protected snapshots and the base of a running backup.
 */
export function removeSnapshotFiles(store: Datastore, s: SnapshotRef): void {
  try {
    unlinkSync(join(store.snapshotDir(s), MANIFEST_BLOB_NAME));
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') writeError(store, `remove ${formatSnapshot(s)}`, err);
  }
  try {
    rmSync(store.snapshotDir(s), { recursive: true, force: true });
  } catch (err) {
    writeError(store, `remove ${formatSnapshot(s)}`, err);
  } finally {
    store.noteChange();
  }
}

export function checkRemovable(store: Datastore, s: SnapshotRef): void {
  if (isProtected(store, s)) {
    throw new GuestvaultError('E_PROTECTED', `snapshot ${formatSnapshot(s)} is protected; remove the protection first (guestvault protect --off)`);
  }
  const running = runningBackup(store, s);
  if (running && (running.base === s.time || running.snapshot === s.time)) {
    throw new GuestvaultError('E_IN_USE', `snapshot ${formatSnapshot(s)} is ${running.base === s.time ? 'the base of' : 'being written by'} the running backup of ${formatGroup(s)} (pid ${running.pid}); try again when it has finished`);
  }
}

export async function forgetSnapshot(store: Datastore, s: SnapshotRef): Promise<void> {
  store.loadManifest(s); // typed error when it does not exist
  const lock = await groupMaintenanceLock(store, s, `forget of ${formatSnapshot(s)}`);
  try {
    checkRemovable(store, s);
    removeSnapshotFiles(store, s);
  } finally {
    lock.release();
  }
}

export function setProtected(store: Datastore, s: SnapshotRef, on: boolean): void {
  store.loadManifest(s);
  const marker = join(store.snapshotDir(s), '.protected');
  try {
    if (on) writeFileSync(marker, '');
    else rmSync(marker, { force: true });
    store.noteChange();
  } catch (err) {
    writeError(store, `change the protection of ${formatSnapshot(s)}`, err);
  }
}

/** Read-modify-write of a manifest's unprotected part under the snapshot's manifest lock (5 s wait, as PBS). */
export async function updateManifest(store: Datastore, s: SnapshotRef, change: (m: Manifest) => Manifest): Promise<Manifest> {
  const lock = await acquireLockWait(store.abs(join('.locks', `${snapshotPath(s)}.manifest.lck`)), 'manifest update', `manifest of ${formatSnapshot(s)}`, 5_000);
  try {
    const next = change(store.loadManifest(s));
    try {
      store.writeManifest(s, next);
    } catch (err) {
      writeError(store, `update the manifest of ${formatSnapshot(s)}`, err);
    }
    return next;
  } finally {
    lock.release();
  }
}

export function getNotes(store: Datastore, s: SnapshotRef): string {
  const n = store.loadManifest(s).unprotected.notes;
  return typeof n === 'string' ? n : '';
}

export async function setNotes(store: Datastore, s: SnapshotRef, notes: string): Promise<void> {
  await updateManifest(store, s, (m) => ({ ...m, unprotected: { ...m.unprotected, notes } }));
}
