import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/guestvault.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for binary output (restore to -). */
  raw: Buffer;
}

/** A scratch GUESTVAULT_HOME plus a runner for the built CLI (tests run after `npm run build`). */
export class CliEnv {
  readonly dir: string;
  readonly home: string;
  constructor(prefix = 'gv-test-') {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.home = join(this.dir, 'home');
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { ...process.env, GUESTVAULT_HOME: this.home, GUESTVAULT_ENCRYPTION_PASSWORD: undefined, ...extra };
  }

  run(args: string[], opts: { env?: Record<string, string>; input?: string } = {}): CliResult {
    const r = spawnSync(process.execPath, [BIN, ...args], { env: this.env(opts.env), input: opts.input === undefined ? undefined : Buffer.from(opts.input), encoding: 'buffer', maxBuffer: 1 << 30 });
    return { code: r.status ?? 128, stdout: r.stdout.toString(), stderr: r.stderr.toString(), raw: r.stdout };
  }

  /** Run and parse --output-format json; throws with stderr when the command fails. */
  json<T = unknown>(args: string[], opts: { env?: Record<string, string> } = {}): T {
    const r = this.run([...args, '--output-format', 'json'], opts);
    if (r.code !== 0) throw new Error(`guestvault ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  /** Start in the background (for kill tests). */
  spawn(args: string[], opts: { env?: Record<string, string> } = {}) {
    return spawn(process.execPath, [BIN, ...args], { env: this.env(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function path(env: CliEnv, ...parts: string[]): string {
  return join(env.dir, ...parts);
}

/** A task log without its `YYYY-MM-DD HH:MM:SS ` line prefixes. */
export function stripTimestamps(log: string): string {
  return log.replace(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} /gm, '');
}

/**
 * Start a command in the background and wait until its stderr shows `marker` (or it exits);
 * `done` resolves with the exit code (143 for SIGTERM), `out.stderr` keeps growing.
 */
export async function spawnUntil(env: CliEnv, args: string[], marker: string, extraEnv: Record<string, string> = {}) {
  const child = env.spawn(args, { env: extraEnv });
  const out = { stderr: '' };
  const done = new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s === 'SIGTERM' ? 143 : 128))));
  child.stdout.resume();
  await new Promise<void>((resolve) => {
    child.stderr.on('data', (b: Buffer) => {
      out.stderr += b.toString();
      if (out.stderr.includes(marker)) resolve();
    });
    void done.then(() => resolve());
  });
  return { child, done, out };
}
