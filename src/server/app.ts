/**
 * The daemon's HTTPS API, in Proxmox's shape: JSON under /api2/json/, answers as `{"data": …}`,
 * errors with an HTTP status and `{"data": null, "message": …}`. Every path but the login needs
 * a valid ticket (cookie), and every request that changes something also its CSRF token.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { GuestvaultError } from '../errors.js';
import { authenticate, checkCsrfToken, checkTicket, findUser, makeCsrfToken, makeTicket, TICKET_COOKIE, TICKET_LIFETIME } from './auth/index.js';

export interface ServerOptions {
  cert: Buffer;
  key: Buffer;
  node: string;
  version: string;
  /** A failed login answers only after this long (from the request's start), whatever failed. */
  loginDelayMs?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    userid: string;
  }
}

class HttpError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
  }
}

/** HTTP status for errors from the rest of guestvault. */
function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.statusCode;
  const status = (err as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400) return status;
  if (err instanceof GuestvaultError) {
    if (err.code === 'E_USAGE' || err.code.startsWith('E_CONFIG')) return 400;
    if (err.code.endsWith('_UNKNOWN') || err.code === 'E_NOT_FOUND') return 404;
    if (err.code === 'E_EXISTS' || err.code.includes('LOCK')) return 409;
  }
  return 500;
}

function cookie(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

const LOGIN = '/api2/json/access/ticket';

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    https: { cert: opts.cert, key: opts.key },
    bodyLimit: 64 * 1024,
    // Unknown fields are an error, not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
  });
  app.decorateRequest('userid', '');

  app.setErrorHandler((err, _req, reply: FastifyReply) => {
    const status = statusOf(err);
    const message = status === 500 && !(err instanceof GuestvaultError) ? 'internal error' : (err as Error).message;
    void reply.code(status).send({ data: null, message });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ data: null, message: `no such path: ${req.method} ${req.url.split('?')[0]}` });
  });

  app.addHook('onRequest', async (req) => {
    if (req.url.split('?')[0] === LOGIN && req.method === 'POST') return;
    const ticket = cookie(req, TICKET_COOKIE);
    const who = ticket ? checkTicket(ticket) : undefined;
    if (!who) throw new HttpError(401, ticket ? 'invalid or expired ticket: log in again' : 'authentication required: log in first');
    try {
      if (!findUser(who.userid).enable) throw new HttpError(401, 'the account is disabled');
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(401, 'invalid or expired ticket: log in again');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const token = req.headers.csrfpreventiontoken;
      if (typeof token !== 'string' || !checkCsrfToken(who.userid, token)) throw new HttpError(401, 'invalid or missing CSRF token (CSRFPreventionToken header)');
    }
    req.userid = who.userid;
  });

  app.post<{ Body: { username: string; password: string } }>(LOGIN, {
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
      const wait = (opts.loginDelayMs ?? 2000) - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      throw new HttpError(401, 'authentication failure');
    }
  });

  app.get('/api2/json/version', async () => ({ data: { version: opts.version, release: opts.version.split('.').slice(0, 2).join('.'), node: opts.node } }));
  app.get('/api2/json/nodes', async () => ({ data: [{ node: opts.node, status: 'online' }] }));
  return app;
}
