import { accessSync, constants, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Datastore, loadDatastoreConfigs } from '../datastore/index.js';
import { GuestvaultError, errnoCode } from '../errors.js';
import { keyConfigNeedsPassphrase, openKeyConfig, parseKeyConfig, type CryptConfig, type KeyConfig } from '../formats/index.js';
import { checkNfsMounted, DEFAULT_DATASTORE_STORAGE, loadStorages, storageHasContent } from '../storage/index.js';

export interface BackupStorage {
  kind: 'datastore';
  id: string;
  store: Datastore;
  /** The storage's own retention, when it has one. */
  pruneBackups?: string;
  /** Encryption key file of the storage (`encryption-key` in storage.cfg), as PVE keeps one per PBS storage. */
  keyFile?: string;
}

/** A `dir` storage: one vzdump archive file per backup in `<path>/dump`. */
export interface DirBackupStorage {
  kind: 'dir';
  id: string;
  dumpDir: string;
  pruneBackups?: string;
  /** At most this many protected archives per guest (`max-protected-backups`; -1 or unset: no limit). */
  maxProtected?: number;
}

/** Read and parse a key file (PBS KeyConfig JSON), with errors that name the file. */
export function readKeyConfigFile(path: string): KeyConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new GuestvaultError('E_KEYFILE_MISSING', errnoCode(err) === 'ENOENT' ? `key file ${path} does not exist` : `cannot read key file ${path}: ${(err as Error).message}`);
  }
  return parseKeyConfig(text, `key file ${path}`);
}

/**
 * Open a key file without a terminal (jobs run in the daemon): a passphrase-protected key needs
 * GUESTVAULT_ENCRYPTION_PASSWORD.
 */
export function loadKeyFileNonInteractive(path: string): CryptConfig {
  const config = readKeyConfigFile(path);
  const passphrase = keyConfigNeedsPassphrase(config) ? process.env.GUESTVAULT_ENCRYPTION_PASSWORD : undefined;
  if (keyConfigNeedsPassphrase(config) && passphrase === undefined) {
    throw new GuestvaultError('E_PASSPHRASE_REQUIRED', `key file ${path} is protected by a passphrase: set GUESTVAULT_ENCRYPTION_PASSWORD`);
  }
  return openKeyConfig(config, passphrase, `key file ${path}`);
}

/**
 * The datastore behind a storage id of storage.cfg. A bare datastore name is accepted too (jobs
 * written before storage.cfg existed name datastores directly).
 */
export function openBackupStorage(id: string = DEFAULT_DATASTORE_STORAGE): BackupStorage | DirBackupStorage {
  const cfg = loadStorages().find((s) => s.id === id);
  if (cfg) {
    if (cfg.disable === '1') throw new GuestvaultError('E_STORAGE_DISABLED', `storage '${id}' is disabled`);
    if (!storageHasContent(cfg, 'backup')) throw new GuestvaultError('E_STORAGE_CONTENT', `storage '${id}' does not allow backups (content ${cfg.content})`);
    if (cfg.type === 'dir' || cfg.type === 'nfs') {
      // An nfs storage is used only while its export is mounted on its path (activateStorage).
      const root = cfg.type === 'nfs' ? checkNfsMounted(cfg) : cfg.path!;
      return {
        kind: 'dir', id, dumpDir: openDumpDir(id, root),
        ...(cfg['prune-backups'] ? { pruneBackups: cfg['prune-backups'] } : {}),
        ...(cfg['max-protected-backups'] !== undefined && Number(cfg['max-protected-backups']) >= 0 ? { maxProtected: Number(cfg['max-protected-backups']) } : {}),
      };
    }
    if (cfg.type !== 'datastore') throw new GuestvaultError('E_STORAGE_TYPE', `storage '${id}' is a ${cfg.type} storage, which cannot hold backups`);
    const store = Datastore.open(cfg.datastore!);
    return { kind: 'datastore', id, store, pruneBackups: cfg['prune-backups'] ?? store.config['prune-backups'], ...(cfg['encryption-key'] ? { keyFile: cfg['encryption-key'] } : {}) };
  }
  if (loadDatastoreConfigs().some((c) => c.name === id)) {
    const store = Datastore.open(id);
    return { kind: 'datastore', id, store, pruneBackups: store.config['prune-backups'] };
  }
  const known = loadStorages().filter((s) => storageHasContent(s, 'backup')).map((s) => s.id).join(', ');
  throw new GuestvaultError('E_STORAGE_UNKNOWN', `unknown storage '${id}' (storages for backups: ${known || 'none'})`);
}

/**
 * An existing, writable directory, else an error that starts with `what` (`storage 'x': path …`,
 * `dump directory …`). Never created here: a missing path (an unmounted disk) must not be
 * silently filled.
 */
export function checkWritableDir(path: string, what: string): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new GuestvaultError('E_STORAGE_OFFLINE', `${what} does not exist`);
  }
  if (!st.isDirectory()) throw new GuestvaultError('E_STORAGE_OFFLINE', `${what} is not a directory`);
  try {
    accessSync(path, constants.W_OK);
  } catch {
    throw new GuestvaultError('E_STORAGE_ACCESS', `${what} is not writable`);
  }
}

/** `<path>/dump` of a dir storage, created when missing; the storage's path itself must exist and be writable. */
export function openDumpDir(id: string, path: string): string {
  checkWritableDir(path, `storage '${id}': path ${path}`);
  const dump = join(path, 'dump');
  mkdirSync(dump, { recursive: true });
  return dump;
}
