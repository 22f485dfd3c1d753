/**
 * guestvault's users, as Proxmox keeps them: `name@realm` ids in `etc/user.cfg` (section-config
 * style: enable, expire, comment, email) and their password hashes apart, in
 * `etc/priv/shadow.json` (mode 0600 in a 0700 directory), so that a config listing never carries
 * a secret. Realms: `pam` (only for root@pam, the administrator) and `gv` (guestvault's own);
 * both are checked against guestvault's password hashes (PAM itself is not consulted).
 */
import { writeFileAtomic } from '../../atomic-file.js';
import { GuestvaultError } from '../../errors.js';
import { parseSectionConfig, writeSectionConfig } from '../../formats/index.js';
import { etcPath } from '../../home.js';
import { hashPassword, verifyPassword } from './password.js';
import { readPrivateJson, writePrivateJson } from './private-file.js';
import { readConfigText } from '../../config-file.js';

export const REALMS = ['pam', 'gv'] as const;
export const ADMIN_USER = 'root@pam';
export const MIN_PASSWORD_LENGTH = 8;

export interface User {
  userid: string;
  enable: boolean;
  /** Seconds since the epoch after which the user cannot log in (0: never). */
  expire: number;
  comment?: string;
  email?: string;
}

export function userConfigFile(): string {
  return etcPath('user.cfg');
}

export function shadowFile(): string {
  return etcPath('priv/shadow.json');
}

export function checkUserid(userid: string): void {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})@([a-z]+)$/.exec(userid);
  if (!m) throw new GuestvaultError('E_USAGE', `invalid user id '${userid}': expected name@realm, e.g. alice@gv`);
  if (!(REALMS as readonly string[]).includes(m[2]!)) throw new GuestvaultError('E_USAGE', `unknown realm '${m[2]}' in '${userid}' (realms: ${REALMS.join(', ')})`);
  if (m[2] === 'pam' && userid !== ADMIN_USER) throw new GuestvaultError('E_USAGE', `realm pam holds only ${ADMIN_USER}; use name@gv`);
}

export function loadUsers(): User[] {
  const file = userConfigFile();
  const text = readConfigText(file);
  if (text === undefined) return [];
  return parseSectionConfig(text, file).map((s) => {
    if (s.type !== 'user') throw new GuestvaultError('E_CONFIG_SYNTAX', `${file}:${s.line}: unknown section type '${s.type}' (expected user)`);
    const u: User = { userid: s.id, enable: s.props.enable !== '0', expire: Number(s.props.expire ?? 0) || 0 };
    if (s.props.comment !== undefined) u.comment = s.props.comment;
    if (s.props.email !== undefined) u.email = s.props.email;
    return u;
  });
}

function saveUsers(users: readonly User[]): void {
  writeFileAtomic(userConfigFile(), writeSectionConfig(users.map((u) => ({
    type: 'user',
    id: u.userid,
    props: {
      enable: u.enable ? '1' : '0',
      ...(u.expire ? { expire: String(u.expire) } : {}),
      ...(u.comment !== undefined ? { comment: u.comment } : {}),
      ...(u.email !== undefined ? { email: u.email } : {}),
    },
  }))));
}

function loadShadow(): Record<string, string> {
  return readPrivateJson(shadowFile());
}

function saveShadow(shadow: Record<string, string>): void {
  writePrivateJson(shadowFile(), shadow);
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new GuestvaultError('E_USAGE', `the password is too short: at least ${MIN_PASSWORD_LENGTH} characters`);
}

export function findUser(userid: string): User {
  const u = loadUsers().find((x) => x.userid === userid);
  if (!u) throw new GuestvaultError('E_USER_UNKNOWN', `unknown user '${userid}' (see \`guestvault user list\`)`);
  return u;
}

export async function addUser(user: Omit<User, 'enable' | 'expire'> & Partial<Pick<User, 'enable' | 'expire'>>, password: string | undefined): Promise<User> {
  checkUserid(user.userid);
  const users = loadUsers();
  if (users.some((u) => u.userid === user.userid)) throw new GuestvaultError('E_EXISTS', `user '${user.userid}' already exists`);
  if (password !== undefined) checkPassword(password);
  const u: User = { enable: true, expire: 0, ...user };
  if (password !== undefined) {
    const shadow = loadShadow();
    shadow[u.userid] = await hashPassword(password);
    saveShadow(shadow);
  }
  saveUsers([...users, u]);
  return u;
}

export function hasPassword(userid: string): boolean {
  return userid in loadShadow();
}

export async function setPassword(userid: string, password: string): Promise<void> {
  findUser(userid);
  checkPassword(password);
  const shadow = loadShadow();
  shadow[userid] = await hashPassword(password);
  saveShadow(shadow);
}

export function updateUser(userid: string, change: Partial<Omit<User, 'userid'>>): User {
  const users = loadUsers();
  const current = users.find((u) => u.userid === userid);
  if (!current) throw new GuestvaultError('E_USER_UNKNOWN', `unknown user '${userid}' (see \`guestvault user list\`)`);
  const updated = { ...current, ...change };
  saveUsers(users.map((u) => (u.userid === userid ? updated : u)));
  return updated;
}

export function removeUser(userid: string): void {
  findUser(userid);
  if (userid === ADMIN_USER) throw new GuestvaultError('E_USAGE', `${ADMIN_USER} cannot be removed (disable it with \`user set ${ADMIN_USER} --enable 0\` once another administrator exists)`);
  saveUsers(loadUsers().filter((u) => u.userid !== userid));
  const shadow = loadShadow();
  if (userid in shadow) {
    delete shadow[userid];
    saveShadow(shadow);
  }
}

/**
 * Checks a login: the user exists, is enabled and not expired, and the password matches. Every
 * failure is the same error, so a caller cannot tell which part was wrong.
 */
export async function authenticate(userid: string, password: string, now = Math.floor(Date.now() / 1000)): Promise<User> {
  const denied = new GuestvaultError('E_AUTH', 'authentication failure');
  const user = loadUsers().find((u) => u.userid === userid);
  const hash = loadShadow()[userid];
  // Hash even when the user is unknown, so that the time taken does not tell.
  const ok = await verifyPassword(password, hash ?? 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
  if (!user || !hash || !ok || !user.enable || (user.expire && user.expire < now)) throw denied;
  return user;
}
