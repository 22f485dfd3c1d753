/**
 * Permissions as Proxmox computes them: roles are sets of privileges; ACL entries give roles to
 * users (or API tokens) on paths (`/`, `/vms/<vmid>`, `/storage/<id>`, `/datastore/<name>`).
 * For a path, the entries of the deepest level that has any for the user decide (an entry on an
 * ancestor counts only when it propagates), so a more specific path overrides a less specific
 * one, and the role NoAccess takes everything away there. root@pam has every privilege.
 */
import { GuestvaultError } from '../../errors.js';
import { ADMIN_USER } from './users.js';

export const PRIVILEGES = [
  'Sys.Audit', 'Sys.Modify',
  'VM.Audit', 'VM.Backup', 'VM.PowerMgmt', 'VM.Allocate', 'VM.Config',
  'Datastore.Audit', 'Datastore.Read', 'Datastore.AllocateSpace', 'Datastore.Prune', 'Datastore.Verify', 'Datastore.Modify', 'Datastore.Allocate',
  'Permissions.Modify',
] as const;
export type Privilege = (typeof PRIVILEGES)[number];

export const ROLES: Record<string, readonly Privilege[]> = {
  Administrator: PRIVILEGES,
  NoAccess: [],
  Auditor: ['Sys.Audit', 'VM.Audit', 'Datastore.Audit'],
  VMAdmin: ['VM.Audit', 'VM.Backup', 'VM.PowerMgmt', 'VM.Allocate', 'VM.Config'],
  VMUser: ['VM.Audit', 'VM.Backup', 'VM.PowerMgmt'],
  BackupOperator: ['VM.Audit', 'VM.Backup', 'Datastore.Audit', 'Datastore.Read', 'Datastore.AllocateSpace'],
  DatastoreAdmin: ['Datastore.Audit', 'Datastore.Read', 'Datastore.AllocateSpace', 'Datastore.Prune', 'Datastore.Verify', 'Datastore.Modify', 'Datastore.Allocate'],
  DatastoreUser: ['Datastore.Audit', 'Datastore.Read', 'Datastore.AllocateSpace'],
};

export interface AclEntry {
  path: string;
  /** A user id (`alice@gv`) or an API token id (`alice@gv!ci`). */
  ugid: string;
  role: string;
  propagate: boolean;
}

/** `/`, `/vms`, `/vms/100`, `/storage/nas`, `/datastore/local` (no `..`, no empty parts). */
export function checkAclPath(path: string): void {
  if (path === '/') return;
  const m = /^\/(vms|storage|datastore)(?:\/([A-Za-z0-9][A-Za-z0-9._-]*))?$/.exec(path);
  if (!m) throw new GuestvaultError('E_USAGE', `invalid ACL path '${path}': expected /, /vms[/<vmid>], /storage[/<id>] or /datastore[/<name>]`);
}

function ancestors(path: string): string[] {
  if (path === '/') return ['/'];
  const parts = path.split('/').filter(Boolean);
  return ['/', ...parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)];
}

/** The privileges `authid` (a user or a token) has on `path` through its own ACL entries. */
function ownPrivileges(acl: readonly AclEntry[], authid: string, path: string): Set<Privilege> {
  const levels = ancestors(path);
  let decided: Set<Privilege> = new Set();
  for (const level of levels) {
    const exact = level === path;
    const here = acl.filter((e) => e.ugid === authid && e.path === level && (exact || e.propagate));
    if (here.length === 0) continue;
    // The deepest level with entries decides; NoAccess there takes everything away.
    decided = here.some((e) => e.role === 'NoAccess') ? new Set() : new Set(here.flatMap((e) => ROLES[e.role] ?? []));
  }
  return decided;
}

/**
 * The effective privileges of an authenticated id on a path. A token (`user!name`) never has more
 * than its user: with privilege separation (the default) it gets what both its own entries and
 * its user's allow; without, exactly its user's.
 */
export function privilegesAt(acl: readonly AclEntry[], authid: string, path: string, opts: { privsep?: boolean } = {}): Set<Privilege> {
  const bang = authid.indexOf('!');
  const userid = bang < 0 ? authid : authid.slice(0, bang);
  const userPrivs = userid === ADMIN_USER ? new Set<Privilege>(PRIVILEGES) : ownPrivileges(acl, userid, path);
  if (bang < 0 || opts.privsep === false) return userPrivs;
  const tokenPrivs = ownPrivileges(acl, authid, path);
  return new Set([...tokenPrivs].filter((p) => userPrivs.has(p)));
}

export function hasPrivilege(acl: readonly AclEntry[], authid: string, path: string, privilege: Privilege, opts: { privsep?: boolean } = {}): boolean {
  return privilegesAt(acl, authid, path, opts).has(privilege);
}

/** Proxmox's user.cfg ACL line: `acl:<propagate>:<path>:<ugid,...>:<role,...>:`. */
export function parseAclLines(text: string, file: string): AclEntry[] {
  const out: AclEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^acl:([01]):([^:]+):([^:]+):([^:]+):$/.exec(line);
    if (!m) throw new GuestvaultError('E_CONFIG_SYNTAX', `${file}:${i + 1}: cannot parse '${line}' (expected acl:<propagate>:<path>:<users>:<roles>:)`);
    for (const ugid of m[3]!.split(',')) {
      for (const role of m[4]!.split(',')) {
        if (!(role in ROLES)) throw new GuestvaultError('E_CONFIG_SYNTAX', `${file}:${i + 1}: unknown role '${role}'`);
        out.push({ propagate: m[1] === '1', path: m[2]!, ugid, role });
      }
    }
  });
  return out;
}

export function formatAclLines(acl: readonly AclEntry[]): string {
  return acl.map((e) => `acl:${e.propagate ? 1 : 0}:${e.path}:${e.ugid}:${e.role}:\n`).join('');
}
