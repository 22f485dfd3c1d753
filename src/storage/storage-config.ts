/**
 * `storage.cfg` in Proxmox's section-config style. Three kinds:
 *
 *   dir: local                      datastore: local-store          nfs: nas
 *   	path /var/lib/guestvault        	datastore local                 	server 192.168.1.5
 *   	content images,backup                                            	export /backups
 *                                                                     	content backup
 *
 * Without a file, the embedded default applies: `local` (dir, GUESTVAULT_HOME, guest disks) and
 * `local-store` (the default datastore `local`).
 */
import { resolve } from 'node:path';
import { nfsMountPath } from './nfs.js';
import { GuestvaultError } from '../errors.js';
import { etcPath, guestvaultHome } from '../home.js';
import { parseSectionConfig, writeSectionConfig } from '../formats/index.js';
import { writeFileAtomic } from '../atomic-file.js';
import { readConfigText } from '../config-file.js';

export type StorageType = 'dir' | 'datastore' | 'nfs';
export const DEFAULT_DIR_STORAGE = 'local';
export const DEFAULT_DATASTORE_STORAGE = 'local-store';

export interface StorageConfig {
  id: string;
  type: StorageType;
  /** dir: the base directory (disk volumes under images/<vmid>/, archives under dump/). */
  path?: string;
  /** datastore: the name of a datastore in datastore.cfg. */
  datastore?: string;
  content?: string;
  'prune-backups'?: string;
  'max-protected-backups'?: string;
  comment?: string;
  disable?: string;
  /** datastore: key file that encrypts every backup to this storage. */
  'encryption-key'?: string;
  /** nfs: the server, the exported path, and mount options. */
  server?: string;
  export?: string;
  options?: string;
}

const KEYS: Record<StorageType, Set<string>> = {
  dir: new Set(['path', 'content', 'prune-backups', 'max-protected-backups', 'comment', 'disable', 'shared', 'nodes']),
  datastore: new Set(['datastore', 'content', 'namespace', 'prune-backups', 'comment', 'disable', 'nodes', 'encryption-key']),
  nfs: new Set(['server', 'export', 'path', 'options', 'content', 'prune-backups', 'max-protected-backups', 'comment', 'disable', 'nodes']),
};

/** Storages that keep files in a directory: archives under dump/, disk images under images/. */
export function isFileStorage(s: StorageConfig): boolean {
  return s.type === 'dir' || s.type === 'nfs';
}

export function storageConfigFile(): string {
  return etcPath('storage.cfg');
}

export function defaultStorages(): StorageConfig[] {
  return [
    { id: DEFAULT_DIR_STORAGE, type: 'dir', path: guestvaultHome(), content: 'images,backup' },
    { id: DEFAULT_DATASTORE_STORAGE, type: 'datastore', datastore: 'local', content: 'backup' },
  ];
}

export function loadStorages(): StorageConfig[] {
  const file = storageConfigFile();
  const text = readConfigText(file);
  if (text === undefined) return defaultStorages();
  return parseSectionConfig(text, file).map((s) => {
    if (s.type !== 'dir' && s.type !== 'datastore' && s.type !== 'nfs') {
      throw new GuestvaultError('E_CONFIG_SYNTAX', `${file}:${s.line}: unknown storage type '${s.type}' (known: dir, datastore, nfs)`);
    }
    const type = s.type as StorageType;
    for (const k of Object.keys(s.props)) {
      if (!KEYS[type].has(k)) throw new GuestvaultError('E_CONFIG_SYNTAX', `${file}:${s.line}: unknown property '${k}' in ${type} storage '${s.id}'`);
    }
    if (type === 'dir' && !s.props.path) throw new GuestvaultError('E_CONFIG_SYNTAX', `${file}:${s.line}: dir storage '${s.id}' has no path`);
    if (type === 'datastore' && !s.props.datastore) throw new GuestvaultError('E_CONFIG_SYNTAX', `${file}:${s.line}: datastore storage '${s.id}' names no datastore`);
    if (type === 'nfs' && (!s.props.server || !s.props.export)) throw new GuestvaultError('E_CONFIG_SYNTAX', `${file}:${s.line}: nfs storage '${s.id}' needs server and export`);
    return { id: s.id, type, ...s.props } as StorageConfig;
  });
}

export function saveStorages(storages: readonly StorageConfig[]): void {
  const file = storageConfigFile();
  const text = writeSectionConfig(storages.map(({ id, type, ...props }) => ({
    type,
    id,
    props: Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined)) as Record<string, string>,
  })));
  writeFileAtomic(file, text);
}

export function findStorage(id: string): StorageConfig {
  const all = loadStorages();
  const found = all.find((s) => s.id === id);
  if (!found) {
    throw new GuestvaultError('E_STORAGE_UNKNOWN', `unknown storage '${id}' (known: ${all.map((s) => `${s.id} (${s.type})`).join(', ') || 'none'})`);
  }
  if (found.disable === '1') throw new GuestvaultError('E_STORAGE_DISABLED', `storage '${id}' is disabled`);
  if (found.type === 'dir') return { ...found, path: resolve(found.path!) };
  if (found.type === 'nfs') return { ...found, path: resolve(nfsMountPath(found)) };
  return found;
}

export function storageHasContent(s: StorageConfig, content: 'images' | 'backup'): boolean {
  const list = s.content ?? (s.type === 'datastore' ? 'backup' : 'images,backup');
  return list.split(',').map((c) => c.trim()).includes(content);
}
