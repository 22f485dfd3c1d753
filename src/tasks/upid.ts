import { hostname } from 'node:os';

let counter = 0;

/**
 * A Proxmox-style unique task id:
 * `UPID:<node>:<pid hex8>:<pstart hex8>:<task id hex8>:<start hex8>:<type>:<id>:<user>:`.
 */
export function makeUpid(type: string, id: string, user: string, now = Math.floor(Date.now() / 1000)): string {
  const hex = (n: number) => (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
  const node = hostname().split('.')[0] ?? 'localhost';
  const pstart = Math.floor(process.uptime() * 100);
  return `UPID:${node}:${hex(process.pid)}:${hex(pstart)}:${hex(counter++)}:${hex(now)}:${type}:${id.replace(/:/g, '\\x3a')}:${user}:`;
}
