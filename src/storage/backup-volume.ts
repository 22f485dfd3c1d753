/**
 * One backup on a storage, named by its volid as the content list shows it: an archive file on a
 * dir/nfs storage (`local:backup/vzdump-qemu-100-….vma.zst`) or a snapshot on a datastore
 * storage (`local-store:backup/vm/100/2026-11-27T23:00:00Z`). Volids from outside (the API) are
 * checked strictly here, so no `..`, absolute path or other directory can be reached through one.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Datastore, forgetSnapshot, isProtected, parseSnapshot, setNotes, setProtected, type SnapshotRef } from '../datastore/index.js';
import { GuestvaultError } from '../errors.js';
import { parseArchiveName } from './archive-names.js';
import { checkNfsMounted } from './nfs.js';
import { findStorage, isFileStorage, type StorageConfig } from './storage-config.js';

export type BackupVolume =
  | { kind: 'archive'; storage: StorageConfig; volid: string; dir: string; file: string }
  | { kind: 'snapshot'; storage: StorageConfig; volid: string; store: Datastore; ref: SnapshotRef };

function unknown(volid: string, why: string): GuestvaultError {
  return new GuestvaultError('E_VOLUME_UNKNOWN', `no backup '${volid}': ${why}`);
}

export function findBackupVolume(storageId: string, volid: string): BackupVolume {
  const storage = findStorage(storageId);
  const prefix = `${storage.id}:backup/`;
  if (!volid.startsWith(prefix)) throw unknown(volid, `backups on storage '${storage.id}' are named ${prefix}…`);
  const rest = volid.slice(prefix.length);
  if (rest.includes('\0') || rest.includes('..')) throw unknown(volid, 'not a backup name');
  if (isFileStorage(storage)) {
    const info = parseArchiveName(rest);
    if (rest.includes('/') || !info || info.filename !== rest) throw unknown(volid, 'not a vzdump archive name');
    const dir = join(storage.type === 'nfs' ? checkNfsMounted(storage) : storage.path!, 'dump');
    if (!existsSync(join(dir, rest))) throw unknown(volid, `no such archive on storage '${storage.id}'`);
    return { kind: 'archive', storage, volid, dir, file: rest };
  }
  let ref: SnapshotRef;
  try {
    ref = parseSnapshot(rest, []);
  } catch {
    throw unknown(volid, 'not a snapshot name (type/id/time)');
  }
  const store = Datastore.open(storage.datastore!);
  store.loadManifest(ref); // a typed "no such snapshot" error
  return { kind: 'snapshot', storage, volid, store, ref };
}

export function backupVolumePath(v: BackupVolume): string | undefined {
  return v.kind === 'archive' ? join(v.dir, v.file) : undefined;
}

export function backupIsProtected(v: BackupVolume): boolean {
  return v.kind === 'archive' ? existsSync(join(v.dir, `${v.file}.protected`)) : isProtected(v.store, v.ref);
}

export async function setBackupNotes(v: BackupVolume, notes: string): Promise<void> {
  if (v.kind === 'snapshot') return setNotes(v.store, v.ref, notes);
  const file = join(v.dir, `${v.file}.notes`);
  if (notes === '') rmSync(file, { force: true });
  else writeFileSync(file, notes);
}

export function setBackupProtected(v: BackupVolume, on: boolean): void {
  if (v.kind === 'snapshot') return setProtected(v.store, v.ref, on);
  const marker = join(v.dir, `${v.file}.protected`);
  if (on) writeFileSync(marker, '');
  else rmSync(marker, { force: true });
}

/** Removes a backup (an archive with its notes and log); a protected one is refused. */
export async function removeBackup(v: BackupVolume): Promise<void> {
  if (backupIsProtected(v)) throw new GuestvaultError('E_PROTECTED', `backup '${v.volid}' is protected: unprotect it first`);
  if (v.kind === 'snapshot') return forgetSnapshot(v.store, v.ref);
  const info = parseArchiveName(v.file)!;
  for (const f of [v.file, `${v.file}.notes`, ...(info.logfilename ? [info.logfilename] : [])]) rmSync(join(v.dir, f), { force: true });
}
