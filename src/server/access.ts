/** Permission checks of one request, against the ACL as it is on disk now. */
import { loadAcl, privilegesAt, type AclEntry, type Privilege } from './auth/index.js';
import { HttpError } from './http-error.js';
import type { RequestAuth } from './request-auth.js';

export class Access {
  private acl: AclEntry[] | undefined;
  private readonly cache = new Map<string, Set<Privilege>>();

  constructor(readonly auth: RequestAuth) {}

  privileges(path: string): Set<Privilege> {
    let privs = this.cache.get(path);
    if (!privs) {
      this.acl ??= loadAcl();
      privs = privilegesAt(this.acl, this.auth.authid, path, { privsep: this.auth.privsep });
      this.cache.set(path, privs);
    }
    return privs;
  }

  can(path: string, privilege: Privilege): boolean {
    return this.privileges(path).has(privilege);
  }

  /** 403 unless the caller has `privilege` on `path`. */
  need(path: string, privilege: Privilege): void {
    if (!this.can(path, privilege)) throw new HttpError(403, `permission check failed: ${this.auth.authid} lacks ${privilege} on ${path}`);
  }
}
