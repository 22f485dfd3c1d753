/**
 * API tokens, as Proxmox's: `user@realm!name`, a random secret shown once at creation, used as
 * `Authorization: GVAPIToken=<tokenid>:<secret>`. Tokens live in `etc/token.cfg` (no secrets);
 * only a SHA-256 of each secret is kept, in `etc/priv/token-shadow.json` — the secrets are random
 * 128-bit values, so a slow password hash would only slow every request down. With privilege
 * separation (the default) a token has only what its own ACL entries and its user's both allow.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { writeFileAtomic } from '../../atomic-file.js';
import { readConfigText } from '../../config-file.js';
import { GuestvaultError } from '../../errors.js';
import { parseSectionConfig, writeSectionConfig } from '../../formats/index.js';
import { etcPath } from '../../home.js';
import { readPrivateJson, writePrivateJson } from './private-file.js';
import { findUser, loadUsers } from './users.js';

export interface ApiToken {
  tokenid: string;
  privsep: boolean;
  expire: number;
  comment?: string;
}

export function tokenConfigFile(): string {
  return etcPath('token.cfg');
}

function tokenShadowFile(): string {
  return etcPath('priv/token-shadow.json');
}

export function tokenId(userid: string, name: string): string {
  if (!/^[A-Za-z][A-Za-z0-9._-]{0,63}$/.test(name)) throw new GuestvaultError('E_USAGE', `invalid token name '${name}': a letter, then letters, digits, '.', '_' or '-'`);
  return `${userid}!${name}`;
}

export function loadTokens(): ApiToken[] {
  const file = tokenConfigFile();
  const text = readConfigText(file);
  if (text === undefined) return [];
  return parseSectionConfig(text, file).map((s) => {
    if (s.type !== 'token') throw new GuestvaultError('E_CONFIG_SYNTAX', `${file}:${s.line}: unknown section type '${s.type}' (expected token)`);
    return { tokenid: s.id, privsep: s.props.privsep !== '0', expire: Number(s.props.expire ?? 0) || 0, ...(s.props.comment !== undefined ? { comment: s.props.comment } : {}) };
  });
}

function saveTokens(tokens: readonly ApiToken[]): void {
  writeFileAtomic(tokenConfigFile(), writeSectionConfig(tokens.map((t) => ({
    type: 'token',
    id: t.tokenid,
    props: { privsep: t.privsep ? '1' : '0', ...(t.expire ? { expire: String(t.expire) } : {}), ...(t.comment !== undefined ? { comment: t.comment } : {}) },
  }))));
}

function loadSecrets(): Record<string, string> {
  return readPrivateJson(tokenShadowFile());
}

function saveSecrets(secrets: Record<string, string>): void {
  writePrivateJson(tokenShadowFile(), secrets);
}

const digest = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** Creates a token; returns it and its secret, which is not kept anywhere and cannot be shown again. */
export function addToken(userid: string, name: string, opts: { privsep?: boolean; expire?: number; comment?: string } = {}): { token: ApiToken; secret: string } {
  findUser(userid);
  const id = tokenId(userid, name);
  const tokens = loadTokens();
  if (tokens.some((t) => t.tokenid === id)) throw new GuestvaultError('E_EXISTS', `token '${id}' already exists`);
  const token: ApiToken = { tokenid: id, privsep: opts.privsep !== false, expire: opts.expire ?? 0, ...(opts.comment !== undefined ? { comment: opts.comment } : {}) };
  const secret = randomUUID();
  const secrets = loadSecrets();
  secrets[id] = digest(secret);
  saveSecrets(secrets);
  saveTokens([...tokens, token]);
  return { token, secret };
}

export function removeToken(tokenid: string): void {
  const tokens = loadTokens();
  if (!tokens.some((t) => t.tokenid === tokenid)) throw new GuestvaultError('E_NOT_FOUND', `no token '${tokenid}'`);
  saveTokens(tokens.filter((t) => t.tokenid !== tokenid));
  const secrets = loadSecrets();
  delete secrets[tokenid];
  saveSecrets(secrets);
}

/** Removes every token of a user (when the user is removed). */
export function dropUserTokens(userid: string): void {
  for (const t of loadTokens().filter((x) => x.tokenid.startsWith(`${userid}!`))) removeToken(t.tokenid);
}

/** Checks `tokenid` + `secret`; every failure is the same error. */
export function authenticateToken(tokenid: string, secret: string, now = Math.floor(Date.now() / 1000)): ApiToken {
  const denied = new GuestvaultError('E_AUTH', 'authentication failure');
  const token = loadTokens().find((t) => t.tokenid === tokenid);
  const stored = loadSecrets()[tokenid];
  const userid = tokenid.split('!')[0]!;
  const user = loadUsers().find((u) => u.userid === userid);
  const given = Buffer.from(digest(secret));
  const ok = stored !== undefined && stored.length === given.length && timingSafeEqual(Buffer.from(stored), given);
  if (!token || !ok || !user || !user.enable || (user.expire && user.expire < now) || (token.expire && token.expire < now)) throw denied;
  return token;
}
