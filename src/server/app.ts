/**
 * The daemon's HTTPS API, in Proxmox's shape: JSON under /api2/json/, answers as `{"data": …}`,
 * errors with an HTTP status and `{"data": null, "message": …}`. Every path but the login needs
 * a ticket (cookie, plus the CSRF token on requests that change something) or an API token, and
 * every route checks the caller's privileges on what it touches. The built GUI is served at `/`.
 */
import { existsSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { GuestvaultError } from '../errors.js';
import { Access } from './access.js';
import type { ApiContext } from './api-context.js';
import { statusOf } from './http-error.js';
import { authenticateRequest } from './request-auth.js';
import { accessRoutes, LOGIN_PATH } from './routes/access-routes.js';
import { guestRoutes } from './routes/guest-routes.js';
import { jobRoutes } from './routes/job-routes.js';
import { nodeRoutes } from './routes/node-routes.js';
import { storageRoutes } from './routes/storage-routes.js';
import { datastoreRoutes } from './routes/datastore-routes.js';
import { taskRoutes } from './routes/task-routes.js';
import { TaskRunner } from './task-runner.js';

export interface ServerOptions {
  cert: Buffer;
  key: Buffer;
  node: string;
  version: string;
  /** A failed login answers only after this long (from the request's start), whatever failed. */
  loginDelayMs?: number;
  runner?: TaskRunner;
  /** The built GUI (index.html and assets); not served when missing. */
  webRoot?: string;
}

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    https: { cert: opts.cert, key: opts.key },
    bodyLimit: 64 * 1024,
    // Unknown fields are an error, not silently dropped; strings stay strings.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });
  const ctx: ApiContext = { node: opts.node, version: opts.version, runner: opts.runner ?? new TaskRunner() };
  app.decorateRequest('access', null as unknown as Access);

  app.setErrorHandler((err, _req, reply: FastifyReply) => {
    const status = statusOf(err);
    const message = status === 500 && !(err instanceof GuestvaultError) ? 'internal error' : (err as Error).message;
    void reply.code(status).send({ data: null, message });
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    // The GUI routes in the browser: any other page path gets the app.
    if (req.method === 'GET' && !path.startsWith('/api2/') && opts.webRoot && existsSync(`${opts.webRoot}/index.html`)) {
      void reply.type('text/html').sendFile('index.html');
      return;
    }
    void reply.code(404).send({ data: null, message: `no such path: ${req.method} ${path}` });
  });

  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0]!;
    if (!path.startsWith('/api2/')) return;
    if (path === LOGIN_PATH && req.method === 'POST') return;
    req.access = new Access(authenticateRequest(req));
  });

  if (opts.webRoot && existsSync(opts.webRoot)) await app.register(fastifyStatic, { root: opts.webRoot, index: 'index.html' });

  await app.register(async (api) => {
    accessRoutes(api, ctx, opts.loginDelayMs ?? 2000);
    nodeRoutes(api, ctx);
    taskRoutes(api, ctx);
    guestRoutes(api, ctx);
    storageRoutes(api, ctx);
    datastoreRoutes(api, ctx);
    jobRoutes(api, ctx);
  }, { prefix: '/api2/json' });
  return app;
}

