/** Login, logout, and what the caller may do (so the GUI can hide what it may not). */
import type { FastifyInstance } from 'fastify';
import { GuestvaultError } from '../../errors.js';
import { loadStorages } from '../../storage/index.js';
import { listVmids } from '../../guests/index.js';
import { loadDatastoreConfigs } from '../../datastore/index.js';
import { authenticate, makeCsrfToken, makeTicket, TICKET_COOKIE, TICKET_LIFETIME } from '../auth/index.js';
import type { ApiContext } from '../api-context.js';
import { HttpError } from '../http-error.js';

export const LOGIN_PATH = '/api2/json/access/ticket';

export function accessRoutes(app: FastifyInstance, _ctx: ApiContext, loginDelayMs: number): void {
  app.post<{ Body: { username: string; password: string } }>('/access/ticket', {
    schema: {
      body: {
        type: 'object',
        required: ['username', 'password'],
        additionalProperties: false,
        properties: { username: { type: 'string', maxLength: 128 }, password: { type: 'string', maxLength: 1024 } },
      },
    },
  }, async (req, reply) => {
    const started = Date.now();
    try {
      const user = await authenticate(req.body.username, req.body.password);
      const ticket = makeTicket(user.userid);
      void reply.header('set-cookie', `${TICKET_COOKIE}=${encodeURIComponent(ticket)}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${TICKET_LIFETIME}`);
      return { data: { username: user.userid, ticket, CSRFPreventionToken: makeCsrfToken(user.userid) } };
    } catch (err) {
      if (!(err instanceof GuestvaultError) || err.code !== 'E_AUTH') throw err;
      // The same answer, after the same time, for an unknown user, a wrong password or a disabled account.
      const wait = loginDelayMs - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      throw new HttpError(401, 'authentication failure');
    }
  });

  app.delete('/access/ticket', async (_req, reply) => {
    void reply.header('set-cookie', `${TICKET_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0`);
    return { data: null };
  });

  app.get('/access/permissions', async (req) => {
    const paths = ['/', '/vms', ...listVmids().map((v) => `/vms/${v}`), '/storage', ...loadStorages().map((s) => `/storage/${s.id}`),
      '/datastore', ...loadDatastoreConfigs().map((d) => `/datastore/${d.name}`)];
    const out: Record<string, Record<string, 1>> = {};
    for (const p of paths) {
      const privs = req.access.privileges(p);
      if (privs.size) out[p] = Object.fromEntries([...privs].sort().map((x) => [x, 1 as const]));
    }
    return { data: out };
  });
}
