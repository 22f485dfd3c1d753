import { GuestvaultError } from '../errors.js';
import type { BackupType } from '../formats/index.js';

// Identifier rules of PBS (pbs-api-types): ids, namespace components, snapshot times.
const SAFE_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const BACKUP_TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$/;
export const MAX_NAMESPACE_DEPTH = 7;
const MAX_NAMESPACE_LENGTH = 256;

export interface GroupRef {
  ns: string[];
  type: BackupType;
  id: string;
}

export interface SnapshotRef extends GroupRef {
  time: number;
}

function usage(message: string): GuestvaultError {
  return new GuestvaultError('E_USAGE', message);
}

export function parseBackupType(t: string): BackupType {
  if (t === 'vm' || t === 'ct' || t === 'host') return t;
  throw usage(`invalid backup type '${t}': use vm, ct or host`);
}

export function checkBackupId(id: string): string {
  if (!SAFE_ID.test(id)) throw usage(`invalid backup id '${id}': use letters, digits, '.', '_' and '-', not starting with '.' or '-'`);
  return id;
}

export function parseNamespace(ns: string | undefined): string[] {
  if (!ns || ns === '/' ) return [];
  if (ns.length > MAX_NAMESPACE_LENGTH) throw usage(`namespace '${ns}' is longer than ${MAX_NAMESPACE_LENGTH} characters`);
  const parts = ns.replace(/^\/+|\/+$/g, '').split('/');
  if (parts.length > MAX_NAMESPACE_DEPTH) throw usage(`namespace '${ns}' is deeper than ${MAX_NAMESPACE_DEPTH} levels`);
  for (const p of parts) if (!SAFE_ID.test(p)) throw usage(`invalid namespace component '${p}' in '${ns}'`);
  return parts;
}

export function formatNamespace(ns: readonly string[]): string {
  return ns.join('/');
}

/** Relative directory of a namespace: `ns/a/ns/b`. */
export function namespaceDir(ns: readonly string[]): string {
  return ns.map((p) => `ns/${p}`).join('/');
}

export function formatBackupTime(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function parseBackupTime(s: string): number | undefined {
  if (!BACKUP_TIME.test(s)) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t / 1000;
}

export function groupPath(g: GroupRef): string {
  return [namespaceDir(g.ns), g.type, g.id].filter(Boolean).join('/');
}

export function snapshotPath(s: SnapshotRef): string {
  return `${groupPath(s)}/${formatBackupTime(s.time)}`;
}

/** `vm/100` (without namespace); the namespace is given separately with --ns, as in PBS. */
export function formatGroup(g: GroupRef): string {
  return `${g.type}/${g.id}`;
}

export function formatSnapshot(s: SnapshotRef): string {
  return `${formatGroup(s)}/${formatBackupTime(s.time)}`;
}

/** Parse `type/id` or `type/id/time`. */
export function parseGroupOrSnapshot(spec: string, ns: string[]): GroupRef | SnapshotRef {
  const parts = spec.split('/');
  if (parts.length !== 2 && parts.length !== 3) {
    throw usage(`'${spec}' is neither a group (type/id, e.g. vm/100) nor a snapshot (type/id/time, e.g. vm/100/2026-11-27T23:00:00Z)`);
  }
  const type = parseBackupType(parts[0]!);
  const id = checkBackupId(parts[1]!);
  if (parts.length === 2) return { ns, type, id };
  const time = parseBackupTime(parts[2]!);
  if (time === undefined) throw usage(`invalid snapshot time '${parts[2]}' in '${spec}': expected YYYY-MM-DDTHH:MM:SSZ`);
  return { ns, type, id, time };
}

export function parseSnapshot(spec: string, ns: string[]): SnapshotRef {
  const r = parseGroupOrSnapshot(spec, ns);
  if (!('time' in r)) throw usage(`'${spec}' is a group; give a snapshot (type/id/time)`);
  return r;
}

export function isSnapshotDirName(name: string): boolean {
  return BACKUP_TIME.test(name);
}

export function isSafeId(s: string): boolean {
  return SAFE_ID.test(s);
}
