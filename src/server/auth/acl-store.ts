/** The ACL in `etc/acl.cfg`, one Proxmox-style line per path, user and role. */
import { writeFileAtomic } from '../../atomic-file.js';
import { readConfigText } from '../../config-file.js';
import { GuestvaultError } from '../../errors.js';
import { etcPath } from '../../home.js';
import { checkAclPath, formatAclLines, parseAclLines, ROLES, type AclEntry } from './permissions.js';
import { loadTokens } from './tokens.js';
import { findUser } from './users.js';

export function aclFile(): string {
  return etcPath('acl.cfg');
}

export function loadAcl(): AclEntry[] {
  const text = readConfigText(aclFile());
  return text === undefined ? [] : parseAclLines(text, aclFile());
}

function checkRole(role: string): void {
  if (!(role in ROLES)) throw new GuestvaultError('E_USAGE', `unknown role '${role}' (roles: ${Object.keys(ROLES).join(', ')})`);
}

/** Gives each of `ugids` each of `roles` on `path` (replacing the same entries' propagate flag). */
export function grant(path: string, ugids: readonly string[], roles: readonly string[], propagate = true): AclEntry[] {
  checkAclPath(path);
  for (const r of roles) checkRole(r);
  for (const u of ugids) {
    findUser(u.split('!')[0]!);
    if (u.includes('!') && !loadTokens().some((t) => t.tokenid === u)) throw new GuestvaultError('E_NOT_FOUND', `no token '${u}' (see \`guestvault user token list\`)`);
  }
  const acl = loadAcl().filter((e) => !(e.path === path && ugids.includes(e.ugid) && roles.includes(e.role)));
  for (const ugid of ugids) for (const role of roles) acl.push({ path, ugid, role, propagate });
  writeFileAtomic(aclFile(), formatAclLines(acl));
  return acl;
}

/** Takes `roles` on `path` away from `ugids`; an entry that is not there is an error. */
export function revoke(path: string, ugids: readonly string[], roles: readonly string[]): AclEntry[] {
  checkAclPath(path);
  const acl = loadAcl();
  for (const ugid of ugids) {
    for (const role of roles) {
      if (!acl.some((e) => e.path === path && e.ugid === ugid && e.role === role)) {
        throw new GuestvaultError('E_NOT_FOUND', `no ACL entry gives ${ugid} the role ${role} on ${path}`);
      }
    }
  }
  const kept = acl.filter((e) => !(e.path === path && ugids.includes(e.ugid) && roles.includes(e.role)));
  writeFileAtomic(aclFile(), formatAclLines(kept));
  return kept;
}

/** Drops every entry of a user and of its tokens (when the user is removed), or of one token. */
export function dropUserAcl(userid: string): void {
  const acl = loadAcl();
  const kept = acl.filter((e) => e.ugid !== userid && (userid.includes('!') || !e.ugid.startsWith(`${userid}!`)));
  if (kept.length !== acl.length) writeFileAtomic(aclFile(), formatAclLines(kept));
}
