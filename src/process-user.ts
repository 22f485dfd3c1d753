import { userInfo } from 'node:os';

/**
 * The auth id of the system user this process runs as (`root@pam`), Proxmox style. It owns the
 * backup groups a node writes, whoever started the backup (as a PVE node's backups belong to the
 * storage's user, not to the GUI user who pressed the button).
 */
export function processAuthId(): string {
  const name = process.getuid?.() === 0 ? 'root' : userInfo().username;
  return `${name}@pam`;
}
