import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { GuestvaultError, errnoCode } from '../errors.js';
import {
  MANIFEST_BLOB_NAME, decodeBlob, encodeBlob, blobBytes, parseManifest, serializeManifest, type BackupType, type Manifest,
} from '../formats/index.js';
import { createChunkStoreLayout, looksLikeDatastore } from './chunk-store.js';
import {
  checkDatastoreName, findDatastoreConfig, loadDatastoreConfigs, saveDatastoreConfigs, type DatastoreConfig,
} from './datastore-config.js';
import { isLocked } from './lock-file.js';
import {
  formatSnapshot, groupPath, isSafeId, isSnapshotDirName, namespaceDir, parseBackupTime, snapshotPath,
  type GroupRef, type SnapshotRef,
} from './names.js';

export interface SnapshotInfo {
  ref: SnapshotRef;
  manifest: Manifest;
  protected: boolean;
}

export type Notice = (message: string) => void;

/**
 * Snapshot lists per group directory, kept while nothing changed: the datastore's generation
 * (rewritten by every change made through this code, in any process) and the group directory's
 * mtime (which also catches snapshot directories added or removed by hand) are the same. Listing
 * 10,000 snapshots otherwise costs 20,000 file system calls, far too slow for the API.
 */
const snapshotCache = new Map<string, { generation: string; mtimeMs: number; list: SnapshotInfo[] }>();
const GENERATION_FILE = '.gv-generation';

export class Datastore {
  private constructor(readonly config: DatastoreConfig) {}

  get name(): string {
    return this.config.name;
  }

  get path(): string {
    return this.config.path;
  }

  /** Open a configured datastore, checking that its path really is one. */
  static open(name: string): Datastore {
    const config = findDatastoreConfig(name);
    if (!existsSync(config.path)) {
      throw new GuestvaultError('E_NOT_A_DATASTORE', `datastore '${name}': path ${config.path} does not exist`);
    }
    if (!looksLikeDatastore(config.path)) {
      throw new GuestvaultError('E_NOT_A_DATASTORE', `datastore '${name}': ${config.path} is not a datastore (no .chunks directory)`);
    }
    return new Datastore(config);
  }

  /** Create the on-disk layout (in an empty or new directory) and register it in datastore.cfg. */
  static create(name: string, path: string, extra: Omit<DatastoreConfig, 'name' | 'path'> = {}): Datastore {
    checkDatastoreName(name);
    const abs = resolve(path);
    const configs = loadDatastoreConfigs();
    if (configs.some((c) => c.name === name)) {
      throw new GuestvaultError('E_DATASTORE_EXISTS', `datastore '${name}' already exists`);
    }
    if (configs.some((c) => resolve(c.path) === abs)) {
      throw new GuestvaultError('E_DATASTORE_EXISTS', `${abs} is already used by datastore '${configs.find((c) => resolve(c.path) === abs)!.name}'`);
    }
    if (existsSync(abs)) {
      if (!statSync(abs).isDirectory()) throw new GuestvaultError('E_USAGE', `${abs} exists and is not a directory`);
      if (!looksLikeDatastore(abs) && readdirSync(abs).length > 0) {
        throw new GuestvaultError('E_USAGE', `${abs} is not empty; a new datastore needs an empty or new directory`);
      }
    }
    try {
      createChunkStoreLayout(abs);
    } catch (err) {
      throw new GuestvaultError('E_DATASTORE_CREATE', `cannot create datastore at ${abs}: ${(err as Error).message}`);
    }
    const config: DatastoreConfig = { name, path: abs, ...extra };
    saveDatastoreConfigs([...configs, config]);
    return new Datastore(config);
  }

  abs(rel: string): string {
    return join(this.path, rel);
  }

  groupDir(g: GroupRef): string {
    return this.abs(groupPath(g));
  }

  snapshotDir(s: SnapshotRef): string {
    return this.abs(snapshotPath(s));
  }

  groupLockPath(g: GroupRef): string {
    return this.abs(join('.locks', `${groupPath(g)}.lck`));
  }

  /** Namespaces (as component lists), the root first, depth-first. */
  listNamespaces(): string[][] {
    const out: string[][] = [];
    const walk = (ns: string[]): void => {
      out.push(ns);
      const dir = this.abs(join(namespaceDir(ns), 'ns'));
      for (const name of safeReaddir(dir).sort()) if (isSafeId(name)) walk([...ns, name]);
    };
    walk([]);
    return out;
  }

  listGroups(ns: string[]): GroupRef[] {
    const groups: GroupRef[] = [];
    for (const type of ['ct', 'host', 'vm'] as BackupType[]) {
      const dir = this.abs(join(namespaceDir(ns), type));
      for (const id of safeReaddir(dir).sort(compareIds)) {
        if (isSafeId(id) && statSync(join(dir, id)).isDirectory()) groups.push({ ns, type, id });
      }
    }
    return groups;
  }

  /**
   * Finished snapshots of a group, oldest first. Directories without a manifest whose backup is
   * no longer running are leftovers of an interrupted backup: they are removed and reported.
   */
  listSnapshots(g: GroupRef, notice?: Notice): SnapshotInfo[] {
    const dir = this.groupDir(g);
    const generation = this.generation();
    let mtimeMs = -1;
    try {
      mtimeMs = statSync(dir).mtimeMs;
    } catch {
      // No group directory: an empty list, not cached.
    }
    const cached = snapshotCache.get(dir);
    if (cached && cached.generation === generation && cached.mtimeMs === mtimeMs) return [...cached.list];
    const list = this.readSnapshots(g, dir, notice);
    if (mtimeMs >= 0) snapshotCache.set(dir, { generation, mtimeMs, list });
    return [...list];
  }

  private generation(): string {
    try {
      return readFileSync(join(this.path, GENERATION_FILE), 'utf8');
    } catch {
      return '';
    }
  }

  /** Tells every process's snapshot lists that a snapshot changed (manifest, protection, removal). */
  noteChange(): void {
    writeFileSync(join(this.path, GENERATION_FILE), randomBytes(8).toString('hex'));
  }

  private readSnapshots(g: GroupRef, dir: string, notice?: Notice): SnapshotInfo[] {
    const out: SnapshotInfo[] = [];
    for (const name of safeReaddir(dir).sort()) {
      if (!isSnapshotDirName(name)) continue;
      const info = this.readSnapshot(g, dir, name, notice);
      if (info) out.push(info);
    }
    return out;
  }

  /** One snapshot directory of a group; undefined (and removed) when it is an unfinished leftover. */
  private readSnapshot(g: GroupRef, dir: string, name: string, notice?: Notice): SnapshotInfo | undefined {
    const ref: SnapshotRef = { ...g, time: parseBackupTime(name)! };
    const snapDir = join(dir, name);
    if (!existsSync(join(snapDir, MANIFEST_BLOB_NAME))) {
      this.removeLeftover(ref, notice);
      return undefined;
    }
    return { ref, manifest: this.loadManifest(ref), protected: existsSync(join(snapDir, '.protected')) };
  }

  private removeLeftover(ref: SnapshotRef, notice?: Notice): void {
    if (isLocked(this.groupLockPath(ref))) return; // A backup is writing it right now.
    rmSync(this.snapshotDir(ref), { recursive: true, force: true });
    this.noteChange();
    notice?.(`removed leftover of an interrupted backup: ${formatSnapshot(ref)} (it had no manifest)`);
  }

  /** Remove leftovers of interrupted backups in a group (called by a new session, under the group lock). */
  removeUnfinished(g: GroupRef, notice?: Notice): void {
    for (const name of safeReaddir(this.groupDir(g))) {
      if (!isSnapshotDirName(name)) continue;
      const ref: SnapshotRef = { ...g, time: parseBackupTime(name)! };
      if (!existsSync(join(this.snapshotDir(ref), MANIFEST_BLOB_NAME))) {
        rmSync(this.snapshotDir(ref), { recursive: true, force: true });
        notice?.(`removed leftover of an interrupted backup: ${formatSnapshot(ref)} (it had no manifest)`);
      }
    }
  }

  /**
   * The newest finished snapshot of a group. Reads one manifest, not all of them: a backup asks
   * for its base at every start, and a group with a few hundred snapshots took ~80 ms to list.
   */
  lastSnapshot(g: GroupRef, notice?: Notice): SnapshotInfo | undefined {
    const dir = this.groupDir(g);
    const names = safeReaddir(dir).filter(isSnapshotDirName).sort();
    for (let i = names.length - 1; i >= 0; i--) {
      const info = this.readSnapshot(g, dir, names[i]!, notice);
      if (info) return info;
    }
    return undefined;
  }

  snapshotExists(s: SnapshotRef): boolean {
    return existsSync(join(this.snapshotDir(s), MANIFEST_BLOB_NAME));
  }

  /** The manifest of a finished snapshot; a typed error when it does not exist or is corrupt. */
  loadManifest(s: SnapshotRef): Manifest {
    const file = join(this.snapshotDir(s), MANIFEST_BLOB_NAME);
    const what = `${formatSnapshot(s)}/${MANIFEST_BLOB_NAME}`;
    let raw: Buffer;
    try {
      raw = readFileSync(file);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        throw new GuestvaultError('E_SNAPSHOT_UNKNOWN', `snapshot ${formatSnapshot(s)} does not exist in datastore '${this.name}'`);
      }
      throw err;
    }
    return parseManifest(decodeBlob(raw, what), what);
  }

  /** Write a manifest atomically (temp file + rename): readers see the old or the new one. */
  writeManifest(s: SnapshotRef, m: Manifest): void {
    const file = join(this.snapshotDir(s), MANIFEST_BLOB_NAME);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, blobBytes(encodeBlob(serializeManifest(m), { compress: true })));
    renameSync(tmp, file);
    this.noteChange();
  }

  readOwner(g: GroupRef): string | undefined {
    try {
      return readFileSync(join(this.groupDir(g), 'owner'), 'utf8').trim();
    } catch {
      return undefined;
    }
  }

  /** Create the group directory (and namespace dirs) and its owner file when new. */
  ensureGroup(g: GroupRef, owner: string): void {
    const dir = this.groupDir(g);
    mkdirSync(dir, { recursive: true });
    const current = this.readOwner(g);
    if (current === undefined) {
      writeFileSync(join(dir, 'owner'), `${owner}\n`);
    } else if (current !== owner) {
      throw new GuestvaultError('E_GROUP_OWNER', `backup group ${g.type}/${g.id} belongs to ${current}, not ${owner}`);
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return [];
    throw err;
  }
}

/** Numeric ids sort as numbers (vm/99 before vm/100), others by name. */
function compareIds(a: string, b: string): number {
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb) return Number(a) - Number(b);
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
