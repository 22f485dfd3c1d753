/**
 * What a storage holds and how full it is, as `pvesm status` and `pvesm list` show it: archives
 * (with notes, protection and the log beside each) and disk images on a dir storage, snapshots on
 * a datastore storage.
 */
import { existsSync, readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Datastore, formatSnapshot } from '../datastore/index.js';
import { parseArchiveName } from './archive-names.js';
import { activateNfs, checkNfsMounted, nfsMountPath, nfsMountProblem } from './nfs.js';
import { isFileStorage, loadStorages, storageHasContent, type StorageConfig, type StorageType } from './storage-config.js';

export interface StorageStatus {
  id: string;
  type: StorageType;
  /** active: usable; inactive: its path or datastore is not there; disabled: `disable 1`. */
  status: 'active' | 'inactive' | 'disabled';
  content: string;
  /** Bytes of the file system it is on (active storages only). */
  total?: number;
  used?: number;
  avail?: number;
  /** Why it is inactive. */
  reason?: string;
}

/** The directory a storage keeps its data in, or why there is none. */
function storageRoot(s: StorageConfig): { path?: string; reason?: string } {
  if (s.type === 'dir') return { path: s.path! };
  if (s.type === 'nfs') {
    const problem = nfsMountProblem(s);
    return problem ? { reason: `${problem} (mounted on use)` } : { path: nfsMountPath(s) };
  }
  try {
    return { path: Datastore.open(s.datastore!).path };
  } catch (err) {
    return { reason: (err as Error).message };
  }
}

export function storageStatus(s: StorageConfig): StorageStatus {
  const base = { id: s.id, type: s.type, content: s.content ?? (s.type === 'datastore' ? 'backup' : 'images,backup') };
  if (s.disable === '1') return { ...base, status: 'disabled' };
  const root = storageRoot(s);
  if (!root.path) return { ...base, status: 'inactive', reason: root.reason };
  try {
    if (!statSync(root.path).isDirectory()) return { ...base, status: 'inactive', reason: `${root.path} is not a directory` };
    const fs = statfsSync(root.path);
    const total = fs.blocks * fs.bsize;
    const avail = fs.bavail * fs.bsize;
    return { ...base, status: 'active', total, used: total - fs.bfree * fs.bsize, avail };
  } catch {
    return { ...base, status: 'inactive', reason: `path ${root.path} does not exist` };
  }
}

export function allStorageStatus(): StorageStatus[] {
  return loadStorages().map(storageStatus);
}

export interface ContentEntry {
  /** `<storage>:backup/<archive>`, `<storage>:backup/vm/<id>/<time>` or `<storage>:<vmid>/<image>`. */
  volid: string;
  content: 'backup' | 'images';
  /** vma, vma.zst, tar.gz, …; pbs-vm / pbs-ct for snapshots; qcow2 or raw for images. */
  format: string;
  size: number;
  vmid?: string;
  /** Seconds since the epoch (backups with a standard name, snapshots). */
  ctime?: number;
  notes?: string;
  protected?: boolean;
  /** The task log beside an archive. */
  log?: string;
  /** The last verification of a snapshot. */
  verification?: 'ok' | 'failed';
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function archiveEntries(s: StorageConfig, root: string): ContentEntry[] {
  const dump = join(root, 'dump');
  if (!existsSync(dump)) return [];
  const out: ContentEntry[] = [];
  for (const f of readdirSync(dump).sort()) {
    const info = parseArchiveName(f);
    if (!info) continue;
    let size: number;
    try {
      size = statSync(join(dump, f)).size;
    } catch {
      continue; // Removed while listing.
    }
    const e: ContentEntry = {
      volid: `${s.id}:backup/${f}`,
      content: 'backup',
      format: `${info.format}${info.compression ? `.${info.compression}` : ''}`,
      size,
      protected: existsSync(join(dump, `${f}.protected`)),
    };
    if (info.vmid !== undefined) e.vmid = String(info.vmid);
    if (info.ctime !== undefined) e.ctime = info.ctime;
    const notes = readText(join(dump, `${f}.notes`));
    if (notes !== undefined) e.notes = notes;
    if (info.logfilename && existsSync(join(dump, info.logfilename))) e.log = join(dump, info.logfilename);
    out.push(e);
  }
  return out;
}

function imageEntries(s: StorageConfig, root: string): ContentEntry[] {
  const images = join(root, 'images');
  if (!existsSync(images)) return [];
  const out: ContentEntry[] = [];
  for (const vmid of readdirSync(images).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(a) - Number(b))) {
    for (const f of readdirSync(join(images, vmid)).sort()) {
      const m = /\.(qcow2|raw)$/.exec(f);
      if (!m) continue;
      out.push({ volid: `${s.id}:${vmid}/${f}`, content: 'images', format: m[1]!, size: statSync(join(images, vmid, f)).size, vmid });
    }
  }
  return out;
}

function snapshotEntries(s: StorageConfig): ContentEntry[] {
  const store = Datastore.open(s.datastore!);
  const out: ContentEntry[] = [];
  for (const g of store.listGroups([])) {
    for (const snap of store.listSnapshots(g)) {
      const e: ContentEntry = {
        volid: `${s.id}:backup/${formatSnapshot(snap.ref)}`,
        content: 'backup',
        format: `pbs-${g.type}`,
        size: snap.manifest.files.reduce((sum, f) => sum + f.size, 0),
        vmid: g.id,
        ctime: snap.ref.time,
        protected: snap.protected,
      };
      const notes = (snap.manifest.unprotected as Record<string, unknown> | undefined)?.notes;
      if (typeof notes === 'string' && notes !== '') e.notes = notes;
      const verified = (snap.manifest.unprotected as { verify_state?: { state?: string } } | undefined)?.verify_state?.state;
      if (verified === 'ok' || verified === 'failed') e.verification = verified;
      out.push(e);
    }
  }
  return out;
}

/** The storage's content, optionally only one kind or one guest's. An nfs storage must be mounted (activateStorage). */
export function storageContent(s: StorageConfig, filter: { content?: 'backup' | 'images'; vmid?: string } = {}): ContentEntry[] {
  const entries: ContentEntry[] = [];
  const want = (c: 'backup' | 'images') => (filter.content === undefined || filter.content === c) && storageHasContent(s, c);
  if (isFileStorage(s)) {
    const root = s.type === 'nfs' ? checkNfsMounted(s) : s.path!;
    if (want('backup')) entries.push(...archiveEntries(s, root));
    if (want('images')) entries.push(...imageEntries(s, root));
  } else if (want('backup')) {
    entries.push(...snapshotEntries(s));
  }
  return filter.vmid === undefined ? entries : entries.filter((e) => e.vmid === filter.vmid);
}

/** Makes a storage usable: mounts an nfs storage's export if needed (see nfs.ts). Others need nothing. */
export async function activateStorage(id: string): Promise<void> {
  const s = loadStorages().find((x) => x.id === id);
  if (s?.type === 'nfs' && s.disable !== '1') await activateNfs(s);
}
