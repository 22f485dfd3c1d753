import { Datastore, loadDatastoreConfigs } from '../datastore/index.js';
import { GuestvaultError } from '../errors.js';
import { DEFAULT_DATASTORE_STORAGE, loadStorages, storageHasContent } from '../storage/index.js';

export interface BackupStorage {
  id: string;
  store: Datastore;
  /** The storage's own retention, when it has one. */
  pruneBackups?: string;
}

/**
 * The datastore behind a storage id of storage.cfg. A bare datastore name is accepted too (jobs
 * written before storage.cfg existed name datastores directly).
 */
export function openBackupStorage(id: string = DEFAULT_DATASTORE_STORAGE): BackupStorage {
  const cfg = loadStorages().find((s) => s.id === id);
  if (cfg) {
    if (cfg.disable === '1') throw new GuestvaultError('E_STORAGE_DISABLED', `storage '${id}' is disabled`);
    if (!storageHasContent(cfg, 'backup')) throw new GuestvaultError('E_STORAGE_CONTENT', `storage '${id}' does not allow backups (content ${cfg.content})`);
    if (cfg.type !== 'datastore') {
      throw new GuestvaultError('E_STORAGE_TYPE', `storage '${id}' is a ${cfg.type} storage: backups as vzdump archive files are not supported yet; use a datastore storage such as '${DEFAULT_DATASTORE_STORAGE}'`);
    }
    const store = Datastore.open(cfg.datastore!);
    return { id, store, pruneBackups: cfg['prune-backups'] ?? store.config['prune-backups'] };
  }
  if (loadDatastoreConfigs().some((c) => c.name === id)) {
    const store = Datastore.open(id);
    return { id, store, pruneBackups: store.config['prune-backups'] };
  }
  const known = loadStorages().filter((s) => storageHasContent(s, 'backup')).map((s) => s.id).join(', ');
  throw new GuestvaultError('E_STORAGE_UNKNOWN', `unknown storage '${id}' (storages for backups: ${known || 'none'})`);
}
