import { resolve } from 'node:path';
import { GuestvaultError } from '../errors.js';
import { etcPath } from '../home.js';
import { parseSectionConfig, writeSectionConfig } from '../formats/index.js';
import { isSafeId } from './names.js';
import { writeFileAtomic } from '../atomic-file.js';
import { readConfigText } from '../config-file.js';

export interface DatastoreConfig {
  name: string;
  path: string;
  comment?: string;
  /** Default retention as a keep-option property string (keep-daily=3,...). */
  'prune-backups'?: string;
  'gc-schedule'?: string;
  /** Minutes an unreferenced chunk survives garbage collection (default 1445 = 24 h 5 min). */
  'gc-atime-cutoff'?: string;
}

const KNOWN_KEYS = new Set(['path', 'comment', 'prune-backups', 'gc-schedule', 'gc-atime-cutoff']);

export function datastoreConfigFile(): string {
  return etcPath('datastore.cfg');
}

export function loadDatastoreConfigs(): DatastoreConfig[] {
  const file = datastoreConfigFile();
  const text = readConfigText(file);
  if (text === undefined) return [];
  return parseSectionConfig(text, file).map((s) => {
    if (s.type !== 'datastore') {
      throw new GuestvaultError('E_CONFIG_SYNTAX', `${file}:${s.line}: unknown section type '${s.type}' (expected 'datastore')`);
    }
    for (const k of Object.keys(s.props)) {
      if (!KNOWN_KEYS.has(k)) throw new GuestvaultError('E_CONFIG_SYNTAX', `${file}:${s.line}: unknown property '${k}' in datastore '${s.id}'`);
    }
    if (!s.props.path) throw new GuestvaultError('E_CONFIG_SYNTAX', `${file}:${s.line}: datastore '${s.id}' has no path`);
    const cutoff = s.props['gc-atime-cutoff'];
    if (cutoff !== undefined && !(/^\d+$/.test(cutoff) && Number(cutoff) >= 1 && Number(cutoff) <= 2880)) {
      throw new GuestvaultError('E_CONFIG_SYNTAX', `${file}:${s.line}: gc-atime-cutoff of datastore '${s.id}' must be minutes from 1 to 2880, not '${cutoff}'`);
    }
    return { name: s.id, ...s.props, path: s.props.path } as DatastoreConfig;
  });
}

export function saveDatastoreConfigs(configs: readonly DatastoreConfig[]): void {
  const file = datastoreConfigFile();
  const text = writeSectionConfig(configs.map(({ name, ...props }) => ({
    type: 'datastore',
    id: name,
    props: Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined)) as Record<string, string>,
  })));
  writeFileAtomic(file, text);
}

export function findDatastoreConfig(name: string): DatastoreConfig {
  const all = loadDatastoreConfigs();
  const found = all.find((c) => c.name === name);
  if (!found) {
    const known = all.map((c) => c.name).join(', ') || 'none; create one with `guestvault datastore create NAME PATH`';
    throw new GuestvaultError('E_DATASTORE_UNKNOWN', `unknown datastore '${name}' (known: ${known})`);
  }
  return { ...found, path: resolve(found.path) };
}

export function checkDatastoreName(name: string): void {
  if (!isSafeId(name) || name.length > 32) {
    throw new GuestvaultError('E_USAGE', `invalid datastore name '${name}': up to 32 letters, digits, '.', '_' or '-'`);
  }
}
