/**
 * Login tickets and CSRF tokens, in the spirit of Proxmox's: a ticket `GV:<userid>:<time hex>::<sig>`
 * is signed with a key only the daemon reads (etc/priv/authkey.key, HMAC-SHA256), valid for two
 * hours; the CSRF token `<time hex>:<sig>` binds the same time to the user, so a request that
 * changes something must carry a value a foreign page cannot read from the cookie.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { etcPath } from '../../home.js';

export const TICKET_LIFETIME = 2 * 3600;
export const TICKET_COOKIE = 'GVAuthCookie';

export function authKeyFile(): string {
  return etcPath('priv/authkey.key');
}

let cachedKey: { path: string; key: Buffer } | undefined;

/** The signing key, made once. */
export function authKey(): Buffer {
  const path = authKeyFile();
  if (cachedKey?.path === path) return cachedKey.key;
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.new`;
    writeFileSync(tmp, randomBytes(32).toString('hex'), { mode: 0o600 });
    renameSync(tmp, path);
  }
  chmodSync(path, 0o600);
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  cachedKey = { path, key };
  return key;
}

function sign(text: string): string {
  return createHmac('sha256', authKey()).update(text).digest('base64url');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function makeTicket(userid: string, now = Math.floor(Date.now() / 1000)): string {
  const body = `GV:${userid}:${now.toString(16).toUpperCase()}`;
  return `${body}::${sign(body)}`;
}

/** The user of a valid, unexpired ticket; undefined otherwise. */
export function checkTicket(ticket: string, now = Math.floor(Date.now() / 1000)): { userid: string; time: number } | undefined {
  const m = /^(GV:([^:\s]+@[a-z]+):([0-9A-F]{8,}))::([A-Za-z0-9_-]+)$/.exec(ticket);
  if (!m || !sameText(sign(m[1]!), m[4]!)) return undefined;
  const time = parseInt(m[3]!, 16);
  if (time > now + 300 || now - time > TICKET_LIFETIME) return undefined;
  return { userid: m[2]!, time };
}

export function makeCsrfToken(userid: string, now = Math.floor(Date.now() / 1000)): string {
  const t = now.toString(16).toUpperCase();
  return `${t}:${sign(`CSRF:${userid}:${t}`)}`;
}

export function checkCsrfToken(userid: string, token: string, now = Math.floor(Date.now() / 1000)): boolean {
  const m = /^([0-9A-F]{8,}):([A-Za-z0-9_-]+)$/.exec(token);
  if (!m || !sameText(sign(`CSRF:${userid}:${m[1]}`), m[2]!)) return false;
  const time = parseInt(m[1]!, 16);
  return time <= now + 300 && now - time <= TICKET_LIFETIME;
}
