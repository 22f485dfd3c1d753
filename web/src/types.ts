/** Shapes of the API's answers, as docs/api.md describes them. */

export type Permissions = Record<string, Record<string, number>>;

export interface NodeEntry {
  node: string;
  status?: string;
}

/**
 * The guest's newest backup. The contract names time, storage and volid; the server may add the
 * result of the last attempt (ok, error) and its task (upid), which are shown when present.
 */
export interface LastBackup {
  time: number;
  storage: string;
  volid?: string | null;
  ok?: boolean;
  error?: string | null;
  upid?: string | null;
}

export interface GuestEntry {
  vmid: number | string;
  name?: string;
  status: string;
  qmpstatus?: string | null;
  lock?: string | null;
  memory?: number;
  disks?: unknown;
  lastbackup?: LastBackup | null;
  nextbackup?: number | null;
  /** Set when the guest's config could not be read. */
  error?: string;
}

export interface GuestStatus {
  vmid: number | string;
  status: 'running' | 'stopped' | string;
  qmpstatus?: string | null;
  pid?: number;
}

export type GuestConfig = Record<string, string | number | boolean>;

export interface StorageEntry {
  storage: string;
  type: 'dir' | 'datastore' | 'nfs' | string;
  status: 'active' | 'inactive' | 'disabled' | string;
  content: string;
  total?: number;
  used?: number;
  avail?: number;
  reason?: string;
  /** datastore storages: the datastore's name (for /admin/datastore/{store}). */
  datastore?: string;
}

export interface ContentEntry {
  volid: string;
  content: string;
  format: string;
  size: number;
  vmid?: string | number;
  ctime?: number;
  notes?: string;
  protected?: boolean | number;
  verification?: 'ok' | 'failed' | string;
  /** Set in GET /nodes/{node}/qemu/{vmid}/backups. */
  storage?: string;
}

export interface DatastoreStatus {
  total: number;
  used: number;
  avail: number;
  chunks?: number;
  'chunk-bytes'?: number;
  'logical-bytes'?: number;
  'dedup-factor'?: number;
  snapshots?: number;
  groups?: number;
}

export interface TaskEntry {
  upid: string;
  node: string;
  pid?: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
  endtime?: number;
  status?: string;
}

export interface TaskStatus {
  upid: string;
  type: string;
  id: string;
  user: string;
  starttime: number;
  status: 'running' | 'stopped';
  exitstatus?: string;
  endtime?: number;
}

export interface LogLine {
  n: number;
  t: string;
}

export interface JobLastRun {
  state?: string;
  status?: string;
  upid?: string;
  time?: number;
}

export interface BackupJob {
  id: string;
  schedule: string;
  enabled: boolean | number;
  storage?: string;
  mode?: 'snapshot' | 'suspend' | 'stop';
  compress?: string;
  vmid?: string | string[] | number;
  all?: boolean | number;
  exclude?: string | string[];
  protected?: boolean | number;
  node?: string;
  'prune-backups'?: string;
  'notes-template'?: string;
  'repeat-missed'?: boolean | number;
  comment?: string;
  'next-run'?: number | null;
  /** The contract's shape is the object; a bare start time with last-status/last-upid beside it is read too. */
  'last-run'?: JobLastRun | number | null;
  'last-status'?: string | null;
  'last-upid'?: string | null;
  running?: boolean;
}

export interface ScheduleRun {
  timestamp: number;
  utc: string;
}
