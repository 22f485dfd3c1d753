import type { FastifyRequest } from 'fastify';
import type { Access } from './access.js';
import { HttpError } from './http-error.js';
import type { TaskRunner } from './task-runner.js';

/** What every route module gets: this node, the version and the runner of background tasks. */
export interface ApiContext {
  node: string;
  version: string;
  runner: TaskRunner;
}

declare module 'fastify' {
  interface FastifyRequest {
    access: Access;
  }
}

/** Paths name the node, as in Proxmox; this daemon answers only for its own. */
export function checkNode(ctx: ApiContext, node: string): void {
  if (node !== ctx.node) throw new HttpError(404, `no such node '${node}' (this is '${ctx.node}')`);
}

export function authid(req: FastifyRequest): string {
  return req.access.auth.authid;
}

/** Ids in paths and bodies: a VMID. */
export const VMID_SCHEMA = { type: 'string', pattern: '^[1-9][0-9]{2,8}$' } as const;
/** A storage, datastore or job id: no path separators, no dots first, no NUL. */
export const ID_SCHEMA = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } as const;
