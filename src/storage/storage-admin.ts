/**
 * Adding, changing and removing storages in storage.cfg, as `pvesm add|set|remove` do: every
 * property is checked before the file is written, and the embedded default becomes a real file
 * on the first change.
 */
import { mkdirSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { findDatastoreConfig } from '../datastore/index.js';
import { GuestvaultError } from '../errors.js';
import { formatKeepOptions, parseKeepOptions } from '../retention/index.js';
import { loadStorages, saveStorages, type StorageConfig, type StorageType } from './storage-config.js';

export const STORAGE_TYPES: readonly StorageType[] = ['dir', 'datastore', 'nfs'];

const CONTENT: Record<StorageType, readonly string[]> = { dir: ['images', 'backup'], datastore: ['backup'], nfs: ['images', 'backup'] };

/** Proxmox's storage id: starts with a letter, letters/digits/-/_/. inside, ends with a letter or digit. */
export function checkStorageId(id: string): void {
  if (!/^[a-z][a-z0-9._-]*[a-z0-9]$/i.test(id)) {
    throw new GuestvaultError('E_USAGE', `invalid storage id '${id}': a letter, then letters, digits, '-', '_' or '.', ending with a letter or digit`);
  }
}

export type StorageProps = Partial<Omit<StorageConfig, 'id' | 'type'>>;

/** The properties checked and in canonical form (prune-backups as Proxmox writes it). */
function checkProps(type: StorageType, props: StorageProps): StorageProps {
  const out: StorageProps = { ...props };
  if (props.path !== undefined) {
    if (type === 'datastore') throw new GuestvaultError('E_USAGE', `--path does not apply to a ${type} storage`);
    if (!isAbsolute(props.path)) throw new GuestvaultError('E_USAGE', `--path must be an absolute path, not '${props.path}'`);
  }
  for (const k of ['server', 'export', 'options'] as const) {
    if (props[k] !== undefined && type !== 'nfs') throw new GuestvaultError('E_USAGE', `--${k} applies to nfs storages`);
  }
  if (props.server !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9.:[\]-]*[A-Za-z0-9\]])?$/.test(props.server)) {
    throw new GuestvaultError('E_USAGE', `invalid --server '${props.server}': a host name or IP address`);
  }
  if (props.export !== undefined && !props.export.startsWith('/')) throw new GuestvaultError('E_USAGE', `--export must be the exported path on the server, starting with '/', not '${props.export}'`);
  if (props.datastore !== undefined) {
    if (type !== 'datastore') throw new GuestvaultError('E_USAGE', `--datastore does not apply to a ${type} storage`);
    findDatastoreConfig(props.datastore);
  }
  if (props.content !== undefined) {
    const list = props.content.split(',').map((c) => c.trim()).filter(Boolean);
    const bad = list.filter((c) => !CONTENT[type].includes(c));
    if (list.length === 0 || bad.length > 0) {
      throw new GuestvaultError('E_USAGE', `invalid content '${props.content}' for a ${type} storage (allowed: ${CONTENT[type].join(', ')})`);
    }
    out.content = [...new Set(list)].join(',');
  }
  if (props['prune-backups'] !== undefined) out['prune-backups'] = formatKeepOptions(parseKeepOptions(props['prune-backups']));
  if (props['max-protected-backups'] !== undefined) {
    if (type === 'datastore') throw new GuestvaultError('E_USAGE', `--max-protected-backups applies to dir and nfs storages (a datastore has no such limit)`);
    if (!/^(-1|\d+)$/.test(props['max-protected-backups'])) {
      throw new GuestvaultError('E_USAGE', `invalid --max-protected-backups '${props['max-protected-backups']}': a number, or -1 for no limit`);
    }
  }
  if (props.disable !== undefined && props.disable !== '0' && props.disable !== '1') {
    throw new GuestvaultError('E_USAGE', `invalid --disable '${props.disable}': 0 or 1`);
  }
  return out;
}

/**
 * Adds a storage. A dir storage's path is created unless `createBasePath` is false (as Proxmox's
 * `create-base-path`); backups never create a missing path later, so an unmounted disk stays visible.
 */
export function addStorage(type: string, id: string, props: StorageProps, opts: { createBasePath?: boolean } = {}): StorageConfig {
  if (!STORAGE_TYPES.includes(type as StorageType)) {
    throw new GuestvaultError('E_USAGE', `unknown storage type '${type}' (known: ${STORAGE_TYPES.join(', ')})`);
  }
  const t = type as StorageType;
  checkStorageId(id);
  const all = loadStorages();
  if (all.some((s) => s.id === id)) throw new GuestvaultError('E_EXISTS', `storage '${id}' already exists`);
  const checked = checkProps(t, props);
  if (t === 'dir' && checked.path === undefined) throw new GuestvaultError('E_USAGE', 'a dir storage needs --path');
  if (t === 'datastore' && checked.datastore === undefined) throw new GuestvaultError('E_USAGE', 'a datastore storage needs --datastore NAME (see `guestvault datastore list`)');
  if (t === 'nfs' && (checked.server === undefined || checked.export === undefined)) throw new GuestvaultError('E_USAGE', 'an nfs storage needs --server HOST and --export /PATH');
  const cfg: StorageConfig = { id, type: t, ...checked };
  if (t === 'dir' && opts.createBasePath !== false) mkdirSync(cfg.path!, { recursive: true });
  saveStorages([...all, cfg]);
  return cfg;
}

/** Changes properties of a storage; `remove` lists properties to delete (`--delete`). */
export function updateStorage(id: string, props: StorageProps, remove: readonly string[] = []): StorageConfig {
  const all = loadStorages();
  const current = all.find((s) => s.id === id);
  if (!current) throw new GuestvaultError('E_STORAGE_UNKNOWN', `unknown storage '${id}' (known: ${all.map((s) => s.id).join(', ') || 'none'})`);
  const required = current.type === 'dir' ? ['path'] : current.type === 'nfs' ? ['server', 'export'] : ['datastore'];
  for (const k of remove) {
    if (required.includes(k)) throw new GuestvaultError('E_USAGE', `--delete ${k}: a ${current.type} storage cannot be without it`);
    if (k === 'id' || k === 'type') throw new GuestvaultError('E_USAGE', `--delete ${k}: not a property that can be deleted`);
  }
  const updated: StorageConfig = { ...current, ...checkProps(current.type, props) };
  for (const k of remove) delete (updated as unknown as Record<string, unknown>)[k];
  saveStorages(all.map((s) => (s.id === id ? updated : s)));
  return updated;
}

/** Removes a storage from storage.cfg; the files on it stay where they are. */
export function removeStorage(id: string): StorageConfig {
  const all = loadStorages();
  const current = all.find((s) => s.id === id);
  if (!current) throw new GuestvaultError('E_STORAGE_UNKNOWN', `unknown storage '${id}' (known: ${all.map((s) => s.id).join(', ') || 'none'})`);
  saveStorages(all.filter((s) => s.id !== id));
  return current;
}
