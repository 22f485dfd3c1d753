import type { Permissions } from './types';

/**
 * Privileges as GET /access/permissions reports them: the server lists every existing guest,
 * storage and datastore path on which the user has any privilege, already resolved (inheritance,
 * NoAccess, propagate). So for an existing object the exact path is the answer, and a missing
 * entry means "nothing". For an object that does not exist yet (a restore's new VMID) the GUI
 * cannot know, and lets the server decide.
 */
export function hasPriv(perms: Permissions, path: string, priv: string): boolean {
  return perms[path]?.[priv] === 1;
}

/** True when the user holds the privilege on the path or on anything below it. */
export function hasPrivAnywhere(perms: Permissions, prefix: string, priv: string): boolean {
  return Object.entries(perms).some(([p, privs]) => (p === prefix || p.startsWith(`${prefix}/`) || p === '/') && privs[priv] === 1);
}
