/**
 * Administrator access at the first start: root@pam gets a random password, written once to
 * etc/priv/root-password (readable by root only) and never logged; `guestvault user passwd
 * root@pam` replaces it (and the file should then be deleted).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { etcPath } from '../home.js';
import { addUser, ADMIN_USER, loadUsers, setPassword, hasPassword } from './auth/index.js';

export function rootPasswordFile(): string {
  return etcPath('priv/root-password');
}

/** Returns the file holding root@pam's new password when one was made now; undefined when root@pam already had one. */
export async function ensureAdmin(): Promise<string | undefined> {
  const exists = loadUsers().some((u) => u.userid === ADMIN_USER);
  if (exists && hasPassword(ADMIN_USER)) return undefined;
  const password = randomBytes(12).toString('base64url');
  if (exists) await setPassword(ADMIN_USER, password);
  else await addUser({ userid: ADMIN_USER, comment: 'administrator' }, password);
  const file = rootPasswordFile();
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}
