import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

let counter = 0;
let ownStart: number | undefined;

/**
 * A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), as Proxmox puts
 * it in UPIDs: with the pid it tells whether the process that wrote a task still runs.
 */
export function processStartTime(pid: number | 'self'): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; fields after it follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(fields[19]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A Proxmox-style unique task id:
 * `UPID:<node>:<pid hex8>:<pstart hex8>:<task id hex8>:<start hex8>:<type>:<id>:<user>:`.
 */
export function makeUpid(type: string, id: string, user: string, now = Math.floor(Date.now() / 1000)): string {
  const hex = (n: number) => (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
  const node = hostname().split('.')[0] ?? 'localhost';
  ownStart ??= processStartTime('self') ?? 0;
  const pstart = ownStart;
  return `UPID:${node}:${hex(process.pid)}:${hex(pstart)}:${hex(counter++)}:${hex(now)}:${type}:${id.replace(/:/g, '\\x3a')}:${user}:`;
}

export interface ParsedUpid {
  node: string;
  pid: number;
  pstart: number;
  /** PBS only (several tasks per process); undefined for a PVE UPID. */
  taskId?: number;
  /** Start time, epoch seconds. */
  startTime: number;
  type: string;
  id: string;
  user: string;
}

const PBS_UPID = /^UPID:([^:\s]+):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8,16}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/;
const PVE_UPID = /^UPID:([^:\s]+):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/;

/** Parse a PBS UPID (with task id) or a PVE UPID (without); undefined when it is neither. */
export function parseUpid(upid: string): ParsedUpid | undefined {
  const hex = (s: string) => parseInt(s, 16);
  let m = PBS_UPID.exec(upid);
  if (m) {
    return { node: m[1]!, pid: hex(m[2]!), pstart: hex(m[3]!), taskId: hex(m[4]!), startTime: hex(m[5]!), type: m[6]!, id: m[7]!, user: m[8]! };
  }
  m = PVE_UPID.exec(upid);
  if (m) return { node: m[1]!, pid: hex(m[2]!), pstart: hex(m[3]!), startTime: hex(m[4]!), type: m[5]!, id: m[6]!, user: m[7]! };
  return undefined;
}
