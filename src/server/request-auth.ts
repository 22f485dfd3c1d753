/**
 * Who sent a request: a ticket cookie (with its CSRF token on requests that change something)
 * or an API token in the Authorization header. Anything else is 401.
 */
import type { FastifyRequest } from 'fastify';
import { GuestvaultError } from '../errors.js';
import { authenticateToken, checkCsrfToken, checkTicket, findUser, TICKET_COOKIE } from './auth/index.js';
import { HttpError } from './http-error.js';

export interface RequestAuth {
  /** The user, or the token (`user@realm!name`) whose privileges count. */
  authid: string;
  userid: string;
  /** Tokens with privilege separation get only what both they and their user may. */
  privsep: boolean;
}

export const TOKEN_SCHEME = 'GVAPIToken=';

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

function byToken(header: string): RequestAuth {
  const value = header.slice(TOKEN_SCHEME.length);
  const colon = value.indexOf(':');
  if (colon <= 0) throw new HttpError(401, `malformed Authorization header: expected ${TOKEN_SCHEME}<user@realm!name>:<secret>`);
  try {
    const token = authenticateToken(value.slice(0, colon), value.slice(colon + 1));
    return { authid: token.tokenid, userid: token.tokenid.split('!')[0]!, privsep: token.privsep };
  } catch (err) {
    if (err instanceof GuestvaultError && err.code === 'E_AUTH') throw new HttpError(401, 'authentication failure');
    throw err;
  }
}

export function authenticateRequest(req: FastifyRequest): RequestAuth {
  const header = req.headers.authorization;
  // Tokens need no CSRF token: a browser never sends this header on its own.
  if (typeof header === 'string' && header.startsWith(TOKEN_SCHEME)) return byToken(header);
  const ticket = cookie(req, TICKET_COOKIE);
  const who = ticket ? checkTicket(ticket) : undefined;
  if (!who) throw new HttpError(401, ticket ? 'invalid or expired ticket: log in again' : 'authentication required: log in first');
  let enabled = false;
  try {
    enabled = findUser(who.userid).enable;
  } catch {
    // A removed user's ticket is no longer valid.
  }
  if (!enabled) throw new HttpError(401, 'invalid or expired ticket: log in again');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const token = req.headers.csrfpreventiontoken;
    if (typeof token !== 'string' || !checkCsrfToken(who.userid, token)) throw new HttpError(401, 'invalid or missing CSRF token (CSRFPreventionToken header)');
  }
  return { authid: who.userid, userid: who.userid, privsep: false };
}
