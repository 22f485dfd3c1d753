import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GuestvaultError } from '../../errors.js';
import { guestvaultHome } from '../../home.js';

/** Runtime files of one VM's QEMU process, all under `GUESTVAULT_HOME/run/qemu/`. */
export interface VmPaths {
  dir: string;
  qmp: string;
  /** A second QMP monitor for status queries: QEMU serves one client per monitor, and a backup holds the first. */
  qmpStatus: string;
  agent: string;
  pid: string;
  serialLog: string;
  /** NBD server socket for point-in-time exports during a backup. */
  nbd: string;
  /** Fleecing images (copy-before-write targets) of a running backup. */
  fleeceDir: string;
}

// sun_path in struct sockaddr_un holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH = 107;

export function vmPaths(vmid: string, create = false): VmPaths {
  const dir = join(guestvaultHome(), 'run', 'qemu');
  const paths: VmPaths = {
    dir,
    qmp: join(dir, `${vmid}.qmp`),
    qmpStatus: join(dir, `${vmid}.status.qmp`),
    agent: join(dir, `${vmid}.qga`),
    pid: join(dir, `${vmid}.pid`),
    serialLog: join(dir, `${vmid}.serial.log`),
    nbd: join(dir, `${vmid}.nbd`),
    fleeceDir: join(dir, `${vmid}.fleece`),
  };
  if (Buffer.byteLength(paths.agent) > MAX_SOCKET_PATH) {
    throw new GuestvaultError('E_PATH_TOO_LONG', `GUESTVAULT_HOME ${guestvaultHome()} is too long for unix socket paths (${paths.agent} exceeds ${MAX_SOCKET_PATH} bytes); use a shorter GUESTVAULT_HOME`);
  }
  if (create) mkdirSync(dir, { recursive: true });
  return paths;
}
