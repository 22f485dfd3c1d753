// Process helpers for the benchmark: timed runs under GNU time, installing
// missing tools with apt-get, du, cmp, page-cache warming.

import { spawn, spawnSync } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { accessSync, constants, readFileSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';

export const TIME = '/usr/bin/time';

/** Absolute path of an executable found on PATH, or null. */
export function findCommand(name) {
  if (name.includes('/')) return isExecutable(name) ? name : null;
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const candidate = join(dir || '.', name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Install the Debian packages for the commands that are missing.
 * needs: [{ command, pkg }]. Returns the commands still missing afterwards.
 */
export function ensureCommands(needs, log) {
  const missing = needs.filter((n) => !findCommand(n.command));
  if (missing.length === 0) return [];
  const pkgs = [...new Set(missing.map((n) => n.pkg))];
  log(`missing: ${missing.map((n) => n.command).join(', ')}; installing: apt-get install -y ${pkgs.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', ...pkgs], { stdio: 'inherit', env }).status === 0;
  if (!install()) {
    log('apt-get install failed; running apt-get update and trying again');
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    if (!install()) log('apt-get install failed (are you root? is the archive reachable?)');
  }
  return needs.filter((n) => !findCommand(n.command)).map((n) => n.command);
}

/** Keep the last `limit` bytes of a stream's output. */
class Tail {
  constructor(limit) {
    this.limit = limit;
    this.chunks = [];
    this.size = 0;
    this.dropped = false;
  }

  push(chunk) {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - this.chunks[0].length >= this.limit) {
      this.size -= this.chunks.shift().length;
      this.dropped = true;
    }
  }

  text() {
    const s = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped ? `[...]${s.slice(-this.limit)}` : s;
  }
}

/**
 * Run argv[0] with argv[1..] under `/usr/bin/time -f %M -o rssFile`,
 * timing it with process.hrtime. Never throws for a failing command.
 * Result: { ok, code, signal, seconds, rssKiB, cpuSeconds, otherCpuSeconds, stdout, stderr, timedOut, command }.
 * cpuSeconds is the command's user + system CPU time; otherCpuSeconds the
 * busy CPU time of the rest of the machine during the run (interference).
 *
 * GNU time reports the maximum resident set size (in KiB) from wait4()'s
 * rusage: for a tree of processes that is the peak of the single largest
 * process, not the sum over the tree (threads count as one process).
 */
export function runTimed(argv, { cwd, env, rssFile, timeoutSeconds = 3600, stdoutLimit = 4 * 1024 * 1024 } = {}) {
  return new Promise((resolve) => {
    rmSync(rssFile, { force: true });
    const out = new Tail(stdoutLimit);
    const err = new Tail(64 * 1024);
    const start = process.hrtime.bigint();
    const cpuBefore = systemCpuSeconds();
    const child = spawn(TIME, ['-f', '%M %U %S', '-o', rssFile, ...argv], {
      cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true, // own process group: killable as a whole
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }, timeoutSeconds * 1000);
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    const finish = (code, signal, spawnError) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const systemCpu = systemCpuSeconds() - cpuBefore;
      clearTimeout(timer);
      let rssKiB = null;
      let cpuSeconds = null;
      try {
        // On failure GNU time writes "Command exited with non-zero status N" first.
        const lines = readFileSync(rssFile, 'utf8').trim().split('\n');
        const [m, u, sys] = lines[lines.length - 1].split(' ').map(Number);
        if (Number.isFinite(m)) rssKiB = m;
        if (Number.isFinite(u) && Number.isFinite(sys)) cpuSeconds = u + sys;
      } catch { /* no file */ }
      // CPU time spent by everything else on the machine (and stolen by the hypervisor) meanwhile.
      const otherCpuSeconds = cpuSeconds == null || Number.isNaN(systemCpu) ? null : Math.max(0, systemCpu - cpuSeconds);
      let stderr = err.text();
      if (spawnError) stderr += `\n${spawnError.message}`;
      if (timedOut) stderr += `\n[killed after ${timeoutSeconds} s]`;
      resolve({ ok: code === 0 && !timedOut, code, signal, seconds, rssKiB, cpuSeconds, otherCpuSeconds, stdout: out.text(), stderr, timedOut, command: argv });
    };
    child.on('error', (e) => finish(null, null, e));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/** Busy CPU seconds of the whole machine so far (from /proc/stat; NaN if unavailable). */
export function systemCpuSeconds() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    // cpu user nice system idle iowait irq softirq steal ...
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] || 0);
    return busy / 100; // USER_HZ
  } catch {
    return NaN;
  }
}

/** Run a command untimed and synchronously; returns { ok, code, stdout, stderr }. */
export function run(argv, { cwd, env } = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return {
    ok: r.status === 0,
    code: r.status,
    stdout: r.stdout ?? '',
    stderr: (r.stderr ?? '') + (r.error ? `\n${r.error.message}` : ''),
  };
}

/** Apparent size in bytes of a directory tree (du -sb), or null. */
export function duBytes(path) {
  const r = run(['du', '-sb', path]);
  if (!r.ok) return null;
  return Number(r.stdout.split(/\s/)[0]);
}

/** Byte-wise equality of two files (cmp -s). */
export function sameContent(a, b) {
  const r = spawnSync('cmp', ['-s', a, b]);
  return r.status === 0;
}

/** Read files so they are in the page cache (cat > /dev/null). */
export function warm(...paths) {
  for (const p of paths) spawnSync('sh', ['-c', 'cat -- "$1" > /dev/null', 'sh', p], { stdio: 'inherit' });
}

/** Read every file below dir (find | cat), to have a repository in the page cache. */
export function warmTree(dir) {
  spawnSync('sh', ['-c', 'find "$1" -type f -exec cat -- {} + > /dev/null', 'sh', dir], { stdio: 'inherit' });
}

/** Flush dirty pages so one step's write-back does not spill into the next step's timing. */
export function sync() {
  spawnSync('sync', [], { stdio: 'inherit' });
}

/** First line of `argv`'s output (for version strings), or null. */
export function versionOf(argv) {
  const r = run(argv);
  const text = (r.stdout.trim() || (r.ok ? r.stderr.trim() : ''));
  return text ? text.split('\n')[0] : null;
}
