/**
 * `nfs` storages: a dir storage on an NFS export that guestvault mounts itself. Activation
 * checks that the server answers (NFS on TCP port 2049, with a timeout), mounts the export on the
 * storage's path, and checks in /proc/self/mountinfo that the path really is that NFS mount.
 * Nothing is ever written to the path while it is not: an unmounted mount point is an empty
 * directory of the local disk, and backups written there would fill the wrong disk and vanish
 * behind the mount later.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { GuestvaultError } from '../errors.js';
import { guestvaultHome } from '../home.js';
import type { StorageConfig } from './storage-config.js';

const NFS_PORT = 2049;
const ANSWER_TIMEOUT_MS = 5_000;
const MOUNT_TIMEOUT_MS = 60_000;

/** The mount point of an nfs storage: its `path`, else `<GUESTVAULT_HOME>/mnt/<id>`. */
export function nfsMountPath(cfg: StorageConfig): string {
  return cfg.path ?? join(guestvaultHome(), 'mnt', cfg.id);
}

export interface MountEntry {
  mountPoint: string;
  fstype: string;
  source: string;
}

/** `\040` and friends: mountinfo escapes spaces, tabs, newlines and backslashes in octal. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** /proc/self/mountinfo: `id parent maj:min root mount-point options [optional...] - fstype source super-options`. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (dash < 6 || f.length < dash + 3) continue;
    out.push({ mountPoint: unescape(f[4]!), fstype: f[dash + 1]!, source: unescape(f[dash + 2]!) });
  }
  return out;
}

function readMountinfo(): string {
  return readFileSync('/proc/self/mountinfo', 'utf8');
}

function exportSource(cfg: StorageConfig): string {
  return `${cfg.server}:${cfg.export}`;
}

function sameExport(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/\/+$/, '');
  return norm(a) === norm(b);
}

/**
 * Why the storage's path is not its NFS mount, or undefined when it is. The last mount on a path
 * is the one that counts (a later mount hides earlier ones).
 */
export function nfsMountProblem(cfg: StorageConfig, mountinfo: string = readMountinfo()): string | undefined {
  const path = nfsMountPath(cfg);
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return `mount point ${path} does not exist`;
  }
  const entry = parseMountinfo(mountinfo).filter((e) => e.mountPoint === real).at(-1);
  if (!entry) return `${path} is not mounted`;
  if (entry.fstype !== 'nfs' && entry.fstype !== 'nfs4') return `${path} is a ${entry.fstype} mount, not NFS`;
  if (!sameExport(entry.source, exportSource(cfg))) return `${path} is mounted from ${entry.source}, not ${exportSource(cfg)}`;
  return undefined;
}

function offline(cfg: StorageConfig, why: string): GuestvaultError {
  return new GuestvaultError('E_STORAGE_OFFLINE', `storage '${cfg.id}' is not online: ${why}`);
}

/** The mount point, when the export is mounted there; otherwise "storage '<id>' is not online". */
export function checkNfsMounted(cfg: StorageConfig): string {
  const problem = nfsMountProblem(cfg);
  if (problem) throw offline(cfg, `${problem} (it is mounted when a backup or restore uses it)`);
  return nfsMountPath(cfg);
}

/** Whether something accepts a TCP connection on the server's NFS port within the timeout. */
export function nfsServerAnswers(server: string, port = NFS_PORT, timeoutMs = ANSWER_TIMEOUT_MS): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: server, port });
    const done = (why: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ENOTFOUND' ? 'unknown host' : err.message));
  });
}

/**
 * Mounts the export when it is not mounted yet; returns the mount point. Fails with "storage
 * '<id>' is not online: …" when the server does not answer, the mount fails, or afterwards the
 * path is still not the NFS mount.
 */
export async function activateNfs(cfg: StorageConfig, opts: { port?: number; timeoutMs?: number } = {}): Promise<string> {
  if (!nfsMountProblem(cfg)) return nfsMountPath(cfg);
  const path = nfsMountPath(cfg);
  const silent = await nfsServerAnswers(cfg.server!, opts.port ?? NFS_PORT, opts.timeoutMs ?? ANSWER_TIMEOUT_MS);
  if (silent) throw offline(cfg, `NFS server ${cfg.server} does not answer on port ${opts.port ?? NFS_PORT} (${silent})`);
  mkdirSync(path, { recursive: true });
  const args = ['-t', 'nfs', ...(cfg.options ? ['-o', cfg.options] : []), exportSource(cfg), path];
  const r = spawnSync('mount', args, { encoding: 'utf8', timeout: MOUNT_TIMEOUT_MS });
  if (r.error || r.status !== 0) {
    // mount's first line says what went wrong; it adds advice about dmesg after it.
    const said = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('dmesg(1)'));
    const why = r.error ? r.error.message : said.join(' ') || `exit code ${r.status}`;
    throw offline(cfg, `mount ${exportSource(cfg)} on ${path} failed: ${why}${/unknown filesystem type|helper program/.test(why) ? ' (this host needs an NFS client: the kernel module and the nfs-common package)' : ''}`);
  }
  const problem = nfsMountProblem(cfg);
  if (problem) throw offline(cfg, `after mounting, ${problem}`);
  return path;
}
