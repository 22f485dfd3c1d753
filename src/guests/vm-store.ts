/**
 * Where VM configs live (`GUESTVAULT_HOME/guests/<vmid>.conf`) and how they are changed: every
 * read-modify-write holds a short config lock, and long operations (backup, restore) set the
 * config's `lock:` property so that others refuse to touch the VM meanwhile, as qemu-server does.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GuestvaultError, errnoCode } from '../errors.js';
import { guestvaultHome } from '../home.js';
import { acquireLockWait } from '../datastore/index.js';
import { checkVmid, formatVmConfig, parseVmConfig, type VmConfig } from './vm-config.js';
import { writeFileAtomic } from '../atomic-file.js';

export function guestsDir(): string {
  return join(guestvaultHome(), 'guests');
}

export function vmConfigPath(vmid: string): string {
  return join(guestsDir(), `${vmid}.conf`);
}

export function vmExists(vmid: string): boolean {
  return existsSync(vmConfigPath(vmid));
}

export function loadVm(vmid: string): VmConfig {
  checkVmid(vmid);
  const file = vmConfigPath(vmid);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new GuestvaultError('E_GUEST_UNKNOWN', `VM ${vmid} does not exist (no ${file}; see \`guestvault vm list\`)`);
    throw new GuestvaultError('E_CONFIG_READ', `cannot read ${file}: ${(err as Error).message}`);
  }
  return parseVmConfig(vmid, text, file);
}

export function saveVm(conf: VmConfig): void {
  const file = vmConfigPath(conf.vmid);
  writeFileAtomic(file, formatVmConfig(conf));
}

export function listVmids(): string[] {
  if (!existsSync(guestsDir())) return [];
  return readdirSync(guestsDir())
    .map((f) => /^(\d+)\.conf$/.exec(f)?.[1])
    .filter((v): v is string => v !== undefined)
    .sort((a, b) => Number(a) - Number(b));
}

export function removeVmConfig(vmid: string): void {
  rmSync(vmConfigPath(vmid), { force: true });
}

/** Run `fn` with the VM's config lock held (waits up to 10 s for another writer). */
export async function withVmConfigLock<T>(vmid: string, fn: () => T | Promise<T>): Promise<T> {
  const dir = join(guestvaultHome(), 'run', 'lock');
  mkdirSync(dir, { recursive: true });
  const lock = await acquireLockWait(join(dir, `qemu-${vmid}.conf.lck`), `config of VM ${vmid}`, `the config of VM ${vmid}`, 10_000);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/** Refuse when the config carries a `lock:` (unless `skipLock`). */
export function checkNotLocked(conf: VmConfig, skipLock = false): void {
  const lock = conf.props.lock;
  if (lock && !skipLock) {
    throw new GuestvaultError('E_GUEST_LOCKED', `VM ${conf.vmid} is locked (${lock}); wait for the ${lock} to finish, or remove a stale lock with \`guestvault vm unlock ${conf.vmid}\``);
  }
}

/** Set `lock: <kind>` for a long operation; fails if another lock is set. Returns the new config. */
export async function setVmLock(vmid: string, kind: string): Promise<VmConfig> {
  return withVmConfigLock(vmid, () => {
    const conf = loadVm(vmid);
    checkNotLocked(conf);
    conf.props.lock = kind;
    saveVm(conf);
    return conf;
  });
}

export async function clearVmLock(vmid: string, kind?: string): Promise<void> {
  await withVmConfigLock(vmid, () => {
    if (!vmExists(vmid)) return;
    const conf = loadVm(vmid);
    if (kind && conf.props.lock !== kind) return;
    delete conf.props.lock;
    saveVm(conf);
  });
}
