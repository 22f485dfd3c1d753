#!/usr/bin/env node
// guestvault VM backup benchmark (not a test): a running QEMU VM whose disk holds the
// benchmark mix of bench/image.js, backed up with `guestvault vzdump` into a datastore,
// against nbdcopy | zstd of the same disk and restic/borg on the raw image file.
// See `node bench/vm.js --help`.

import { existsSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { clearTimeout, setTimeout } from 'node:timers';
import net from 'node:net';
import { spawn } from 'node:child_process';
import console from 'node:console';
import process from 'node:process';

import { BLOCK, MiB, planChanges, prepareImages } from './image.js';
import { TIME, duBytes, ensureCommands, findCommand, run, runTimed, sameContent, sync, versionOf, warm } from './tools.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PROJECT = resolve(HERE, '..');
const GiB = 1024 * MiB;
const VMID = '100';
const RESTORE_VMID = '200';
const DISK = 'virtio0';
const NODE = `drive-${DISK}`; // guestvault's name of the disk's format node
const PEERS = ['restic', 'borg'];

const HELP = `Usage: node bench/vm.js [options]      (or: npm run bench:vm -- [options])

VM backup benchmark (not a test). A QEMU VM (TCG, no guest OS: the disk is only
served) gets the synthetic disk of bench/image.js (30 % zeros, 30 % text, 40 %
random) as ${DISK}, and runs while it is backed up. Each round, on a warm page cache:

  nbdcopy       the disk exported read-only over NBD by the same QEMU, copied with
                nbdcopy to stdout and compressed with zstd -1 -T0 (the anchor)
  full          guestvault vzdump --mode snapshot into a fresh datastore
  incremental   2 % of the 4 MiB blocks rewritten through the VM's virtio disk
                (qemu-io over a second QMP monitor; afterwards the disk equals
                bench/image.js's changed image), then vzdump --mode snapshot
                again: a dirty-bitmap incremental
  suspend       vzdump --mode suspend of the unchanged VM: the guest downtime
                of suspend mode (the pause lasts until the point-in-time view
                is taken)
  archive       vzdump --dumpdir DIR --compress zstd --zstd 2 of the running VM:
                a .vma.zst file (the file-level storage), zstd with as many
                threads as the anchor's -T0 on this machine
  zstd -d       zstd -d of that archive to a file (the restore anchor)
  archive restore
                qmrestore of that archive as a new VM with --format raw
  restic/borg   the raw image file: first backup, then the changed image under
                the same path (both re-read the whole file)

Targets: full backup at least 0.7x the rate of nbdcopy | zstd; incremental at
least 15x faster than the full backup; archive at least 0.8x the rate of
nbdcopy | zstd; archive restore at least as fast as zstd -d of the archive.

Options:
  --size GiB        disk size in GiB, rounded to 4 MiB (default 2; 0.25 for a quick run)
  --repeat N        rounds (a new VM, datastore and repositories each); report the
                    median of each step (default 1)
  --workdir DIR     working directory (default bench/work); images are shared
                    with bench/run.js (DIR/image/<size>M/), results go to
                    DIR/vm-results.json
  --peers LIST      comma-separated subset of ${PEERS.join(',')}, or none (default: all)
  --format F        format of the VM's disk volume: qcow2 (default) or raw
  --seed TEXT       seed of the image generator (default guestvault-bench-1)
  --regen           regenerate the images even if cached ones match
  --no-daemon       no guestvault daemon: each vzdump runs in its own process (by
                    default a daemon runs, as on a deployed node, and takes them)
  --timeout SEC     kill any single timed command after SEC seconds (default 3600)
  --prewarm GiB     before each timed step, write and delete a scratch file of
                    this size (default 2; 0: off), so that every step starts with the
                    same amount of just-freed page cache (see the notes)
  --keep-node-env   run guestvault with NODE_EXTRA_CA_CERTS if it is set here; by
                    default guestvault's processes run without it, as on a Proxmox
                    node (see the notes)
  -h, --help        show this help

Missing programs are installed with apt-get (qemu-system-x86, qemu-utils,
libnbd-bin for nbdcopy, zstd, restic, borgbackup, time). guestvault runs as
\`node bin/guestvault.js\` from the built dist/ (npm run bench:vm builds first)
with GUESTVAULT_HOME=<workdir>/vm-home.
`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      size: { type: 'string', default: '2' },
      repeat: { type: 'string', default: '1' },
      workdir: { type: 'string', default: join(HERE, 'work') },
      peers: { type: 'string', default: PEERS.join(',') },
      format: { type: 'string', default: 'qcow2' },
      seed: { type: 'string', default: 'guestvault-bench-1' },
      regen: { type: 'boolean', default: false },
      'no-daemon': { type: 'boolean', default: false },
      timeout: { type: 'string', default: '3600' },
      prewarm: { type: 'string', default: '2' },
      'keep-node-env': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const gib = Number(values.size);
  if (!Number.isFinite(gib) || gib <= 0) throw new Error(`--size: not a positive number: ${values.size}`);
  const size = Math.max(1, Math.round((gib * GiB) / BLOCK)) * BLOCK;
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat: not a positive integer: ${values.repeat}`);
  const prewarm = Number(values.prewarm);
  if (!Number.isFinite(prewarm) || prewarm < 0) throw new Error(`--prewarm: not a size in GiB >= 0: ${values.prewarm}`);
  const timeout = Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new Error(`--timeout: not a positive number: ${values.timeout}`);
  const peers = values.peers === 'none' ? [] : values.peers.split(',').map((t) => t.trim()).filter(Boolean);
  for (const p of peers) if (!PEERS.includes(p)) throw new Error(`--peers: unknown tool ${p} (known: ${PEERS.join(', ')}, or none)`);
  if (!['qcow2', 'raw'].includes(values.format)) throw new Error(`--format: qcow2 or raw, not ${values.format}`);
  return {
    size, repeat, timeout, prewarm,
    workdir: resolve(values.workdir),
    peers: PEERS.filter((p) => peers.includes(p)),
    format: values.format,
    seed: values.seed,
    regen: values.regen,
    daemon: !values['no-daemon'],
    keepNodeEnv: values['keep-node-env'],
  };
}

const log = (...a) => console.log(...a);
const quote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
const mib = (b) => (b / MiB).toFixed(1);
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

class StepFailed extends Error {}

// ---------------------------------------------------------------------------
// A minimal QMP client (its own, so that the baseline does not depend on the code under test).

class Qmp {
  static connect(path, timeoutMs = 10_000) {
    return new Promise((resolveConnect, reject) => {
      const q = new Qmp();
      q.socket = net.createConnection(path);
      q.buffer = '';
      q.waiting = null; // { resolve, reject, timer } of the one command in flight
      q.queue = Promise.resolve();
      const timer = setTimeout(() => { q.socket.destroy(); reject(new Error(`QMP ${path}: no greeting within ${timeoutMs} ms`)); }, timeoutMs);
      let greeted = false;
      q.socket.on('error', (e) => {
        clearTimeout(timer);
        if (!greeted) reject(new Error(`QMP ${path}: ${e.message}`));
        q.fail(e);
      });
      q.socket.on('close', () => q.fail(new Error(`QMP ${path}: connection closed`)));
      q.socket.on('data', (d) => {
        q.buffer += d.toString('utf8');
        let nl;
        while ((nl = q.buffer.indexOf('\n')) >= 0) {
          const line = q.buffer.slice(0, nl).trim();
          q.buffer = q.buffer.slice(nl + 1);
          if (!line) continue;
          let msg;
          try { msg = JSON.parse(line); } catch { continue; }
          if (msg.QMP && !greeted) {
            greeted = true;
            q.execute('qmp_capabilities').then(() => { clearTimeout(timer); resolveConnect(q); }, (e) => { clearTimeout(timer); reject(e); });
          } else if (('return' in msg || 'error' in msg) && q.waiting) {
            const w = q.waiting;
            q.waiting = null;
            clearTimeout(w.timer);
            if (msg.error) w.reject(new Error(`${w.command}: ${msg.error.class}: ${msg.error.desc}`));
            else w.resolve(msg.return);
          } // events are ignored
        }
      });
    });
  }

  fail(err) {
    if (!this.waiting) return;
    const w = this.waiting;
    this.waiting = null;
    clearTimeout(w.timer);
    w.reject(err);
  }

  /** One command at a time (replies carry no id here). */
  execute(command, args, timeoutMs = 30_000) {
    const next = this.queue.then(() => new Promise((res, rej) => {
      const timer = setTimeout(() => { this.waiting = null; rej(new Error(`QMP ${command}: no reply within ${timeoutMs} ms`)); }, timeoutMs);
      this.waiting = { command, resolve: res, reject: rej, timer };
      this.socket.write(`${JSON.stringify(args === undefined ? { execute: command } : { execute: command, arguments: args })}\n`);
    }));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** An HMP command; its text output (qemu-io prints its errors to QEMU's stderr, not here). */
  hmp(commandLine, timeoutMs = 60_000) {
    return this.execute('human-monitor-command', { 'command-line': commandLine }, timeoutMs);
  }

  close() {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------------------
// Helpers around the VM and guestvault's task log.

const gvArgv = (...args) => [process.execPath, join(PROJECT, 'bin', 'guestvault.js'), ...args];

/**
 * CPU seconds (user + system) used so far by a process and all its threads, or null; with
 * `children`, plus those of the children it has waited for.
 */
function processCpuSeconds(pid, children = false) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(f[11]) + Number(f[12]); // utime, stime in USER_HZ
    return (children ? own + Number(f[13]) + Number(f[14]) : own) / 100;
  } catch {
    return null;
  }
}

function processHwmKiB(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function qemuPid(home) {
  try {
    const pid = Number(readFileSync(join(home, 'run', 'qemu', `${VMID}.pid`), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    // Ours only: its command line names our home's QMP socket.
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(home, 'run', 'qemu')) ? pid : null;
  } catch {
    return null;
  }
}

const UNIT = { B: 1, KiB: 1024, MiB, GiB, TiB: 1024 * GiB };
const sizeOf = (n, u) => Number(n) * (UNIT[u] ?? NaN);

/**
 * What one vzdump's task log (stderr) says: bytes read, whether it was incremental, the
 * dirty and zero bytes, the data phase's seconds and the guest downtime.
 */
function parseTaskLog(text) {
  const out = { incremental: false, dirtyBytes: null, zeroBytes: null, readBytes: null, dataSeconds: null, newChunks: null, reusedChunks: null, downtime: null, consistency: null, ok: /\bTASK OK\b/.test(text) };
  let m = /: using fast incremental mode \(dirty bitmap\), ([\d.]+) (\w+) dirty of/.exec(text);
  if (m) {
    out.incremental = true;
    out.dirtyBytes = sizeOf(m[1], m[2]);
  }
  m = /; ([\d.]+) (\w+) zero data not read/.exec(text);
  if (m) out.zeroBytes = sizeOf(m[1], m[2]);
  // "<disk>: <archive>: 2.00 GiB in 512 chunks (N new, N reused, N zero); wrote … as …; 12.3s, 166 MiB/s; read 1.40 GiB"
  m = /chunks \((\d+) new, (\d+) reused, (\d+) zero\); wrote [^;]*; (?:(\d+)h)?(?:(\d+)m)?([\d.]+)?s?[^;]*; read ([\d.]+) (\w+)/.exec(text);
  if (m) {
    out.newChunks = Number(m[1]);
    out.reusedChunks = Number(m[2]);
    out.dataSeconds = Number(m[4] ?? 0) * 3600 + Number(m[5] ?? 0) * 60 + Number(m[6] ?? 0);
    out.readBytes = sizeOf(m[7], m[8]);
  }
  const paused = /paused for (\d+) ms/.exec(text);
  const frozen = /frozen for (\d+) ms/.exec(text);
  const stopped = /stopped for ([\d.]+) s/.exec(text);
  if (paused) out.downtime = { kind: 'paused', ms: Number(paused[1]) };
  else if (stopped) out.downtime = { kind: 'stopped', ms: Number(stopped[1]) * 1000 };
  else if (frozen) out.downtime = { kind: 'frozen', ms: Number(frozen[1]) };
  else out.downtime = { kind: 'none', ms: 0 };
  if (/guest agent not enabled/.test(text)) out.consistency = 'crash-consistent (no guest agent, no fsfreeze)';
  else if (frozen) out.consistency = 'filesystems frozen by the guest agent';
  return out;
}

/**
 * The environment of guestvault's processes. NODE_EXTRA_CA_CERTS only adds trusted CAs for TLS,
 * which no timed command uses (local datastore, Unix sockets), but Node 20 parses the whole
 * bundle it names at every process start, before any of our code runs (nodejs/node#40524):
 * ~40-70 ms per command in the sandbox these figures come from, which sets it for its HTTPS
 * proxy. A Proxmox node does not set it, so by default it is dropped here; --keep-node-env
 * measures with it (the small steps then carry that much more fixed time).
 */
function guestvaultEnv(opts, extra) {
  const env = { ...process.env, ...extra };
  if (!opts.keepNodeEnv) delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** What guestvaultEnv did, for the log and the results. */
function nodeEnvLine(opts) {
  if (!process.env.NODE_EXTRA_CA_CERTS) return 'guestvault environment: as inherited (NODE_EXTRA_CA_CERTS is not set)';
  return opts.keepNodeEnv
    ? 'guestvault environment: as inherited, with NODE_EXTRA_CA_CERTS (--keep-node-env)'
    : 'guestvault environment: without NODE_EXTRA_CA_CERTS, which is set here (--keep-node-env keeps it)';
}

/**
 * Node's own start-up, which every timed `guestvault` command (the client of a daemon run too)
 * pays once: a fixed part of the small steps; with and without NODE_EXTRA_CA_CERTS when it is set.
 */
function nodeStartLine() {
  const time = (env) => {
    const t = [];
    for (let i = 0; i < 5; i++) {
      const start = process.hrtime.bigint();
      run([process.execPath, '-e', '0'], { env });
      t.push(Number(process.hrtime.bigint() - start) / 1e9);
    }
    return median(t);
  };
  const withEnv = time(process.env);
  const head = `node start-up (node -e 0, median of 5): ${withEnv.toFixed(3)} s`;
  if (!process.env.NODE_EXTRA_CA_CERTS) return head;
  const rest = { ...process.env };
  delete rest.NODE_EXTRA_CA_CERTS;
  return `${head}; ${time(rest).toFixed(3)} s without NODE_EXTRA_CA_CERTS, which is set here`;
}

/**
 * Write `bytes` of zeros to `file` and delete it: that much page cache, just freed. Deleted
 * unsynced: its pages are dropped without being written (2 GiB stays under the kernel's
 * background write-back threshold here), so the step that follows does not share the disk with
 * 2 GiB of write-back. Synced first, the incremental (which syncs 40 MiB) took 0.43-0.47 s
 * instead of 0.29 s in 2 of 3 rounds at the same CPU; the host still absorbing those writes is
 * the likely cause. A side effect on this VM: after such a write, memory the daemon already had
 * (its chunk buffers) faults in again page by page on first use (~15 us per 4 KiB page), which
 * the small incremental pays in full (~60-70 ms for its 16 MiB of buffers); a full backup writes
 * as much itself, so the incremental after it would pay that without the prewarm too.
 */
function prewarmPageCache(file, bytes) {
  const fd = openSync(file, 'w');
  try {
    const block = Buffer.alloc(8 * MiB);
    for (let done = 0; done < bytes; done += block.length) writeSync(fd, block, 0, Math.min(block.length, bytes - done));
  } finally {
    closeSync(fd);
  }
  rmSync(file, { force: true });
}

/** Wait until the wall clock is in a later second than `ms` (snapshot names have 1 s resolution). */
async function nextSecond(ms) {
  const wait = (Math.floor(ms / 1000) + 1) * 1000 + 20 - Date.now();
  if (wait > 0) await sleep(wait);
}

/** The 4 MiB blocks of the changed image, each in its own file (qemu-io's write -s reads a file). */
function extractChangedBlocks(image, seed, dir) {
  mkdirSync(dir, { recursive: true });
  const blocks = planChanges(image.size, seed);
  const buf = Buffer.alloc(BLOCK);
  const fd = openSync(image.changed, 'r');
  try {
    return blocks.map((b) => {
      let got = 0;
      while (got < BLOCK) {
        const n = readSync(fd, buf, got, BLOCK - got, b * BLOCK + got);
        if (n === 0) throw new Error(`${image.changed}: short read at block ${b}`);
        got += n;
      }
      const file = join(dir, `block-${b}.bin`);
      writeFileSync(file, buf);
      return { block: b, offset: b * BLOCK, length: BLOCK, file };
    });
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------
// One round: a timed step records wall time, CPU, peak RSS, QEMU's CPU and the flush after it.

class Round {
  constructor(opts, image) {
    this.opts = opts;
    this.image = image;
    this.steps = {};
    this.errors = {};
    this.rssFile = join(opts.workdir, 'tmp', 'time-vm.txt');
    this.qemu = null; // pid while the VM runs
    this.daemon = null; // pid of guestvault's daemon, if one runs
    this.qemuHwmKiB = null;
    this.daemonHwmKiB = null; // the daemon's peak RSS over the round (it ran the backups)
  }

  setup(what, argv, { env, cwd } = {}) {
    log(`  ${what}: $ ${argv.map(quote).join(' ')}`);
    const r = run(argv, { env, cwd });
    if (!r.ok) throw new StepFailed(`${what} failed (exit ${r.code}):\n${r.stderr.trim() || r.stdout.trim()}`);
    return r;
  }

  async timed(step, argv, { env, cwd, warmPaths = [] } = {}) {
    log(`  ${step}: $ ${argv.map(quote).join(' ')}`);
    // Every step starts from the same state of memory. On VMs with free page reporting (as the
    // 2-core VM these figures come from) memory freed a short while ago is still backed by the
    // host and cheap to fill, while memory the host took back costs a fault per page: whichever
    // step came right after a large deletion (zstd -d's output before the archive restore,
    // nbdcopy's before the full) wrote its output 2-3x faster than its comparison. A host whose
    // memory is full of page cache reuses cache pages; the scratch file gives every step that.
    if (this.opts.prewarm > 0) prewarmPageCache(join(this.opts.workdir, 'tmp', 'prewarm.scratch'), this.opts.prewarm * GiB);
    warm(...warmPaths);
    sync();
    const qemuBefore = this.qemu ? processCpuSeconds(this.qemu) : null;
    const daemonBefore = this.daemon ? processCpuSeconds(this.daemon, true) : null;
    const r = await runTimed(argv, { env, cwd, rssFile: this.rssFile, timeoutSeconds: this.opts.timeout });
    const qemuCpuSeconds = qemuBefore == null ? null : processCpuSeconds(this.qemu) - qemuBefore;
    // A vzdump handed to the daemon does its work there: its CPU (and that of the programs it
    // ran, e.g. zstd for an archive) counts as the step's.
    const daemonCpuSeconds = daemonBefore == null ? 0 : (processCpuSeconds(this.daemon, true) ?? daemonBefore) - daemonBefore;
    if (r.cpuSeconds != null) r.cpuSeconds += daemonCpuSeconds;
    if (r.otherCpuSeconds != null) r.otherCpuSeconds = Math.max(0, r.otherCpuSeconds - daemonCpuSeconds);
    const flushStart = process.hrtime.bigint();
    sync(); // not timed: write-back of what the step left dirty (guestvault syncs its datastore itself)
    const flushSeconds = Number(process.hrtime.bigint() - flushStart) / 1e9;
    const rec = {
      status: r.ok ? 'ok' : 'failed',
      seconds: r.seconds,
      mibPerSecond: this.image.size / MiB / r.seconds,
      cpuSeconds: r.cpuSeconds,
      rssKiB: r.rssKiB,
      qemuCpuSeconds,
      // CPU of everything else on the machine, QEMU's share taken out (that is part of the step).
      otherCpuSeconds: r.otherCpuSeconds == null ? null : Math.max(0, r.otherCpuSeconds - (qemuCpuSeconds ?? 0)),
      flushSeconds,
    };
    this.steps[step] = rec;
    if (!r.ok) {
      rec.stderr = r.stderr.slice(-8192);
      throw new StepFailed(`${step} failed (exit ${r.code ?? r.signal}${r.timedOut ? ', timed out' : ''}) after ${r.seconds.toFixed(2)} s:\n${r.stderr.trim().slice(-4096) || r.stdout.trim().slice(-4096)}`);
    }
    const cpu = `CPU ${rec.cpuSeconds?.toFixed(2) ?? '?'} s${qemuCpuSeconds == null ? '' : ` + QEMU ${qemuCpuSeconds.toFixed(2)} s`}`;
    log(`  ${step}: ${r.seconds.toFixed(2)} s (${rec.mibPerSecond.toFixed(0)} MiB/s of disk), ${cpu}, peak RSS ${rec.rssKiB == null ? '?' : mib(rec.rssKiB * 1024)} MiB, sync afterwards ${flushSeconds.toFixed(2)} s` +
      `${rec.otherCpuSeconds == null ? '' : `, other processes ${rec.otherCpuSeconds.toFixed(2)} CPU-s`}`);
    return { rec, result: r };
  }

  /** A timed vzdump; its task log is parsed into the step's record. */
  async vzdump(step, mode, env, disk) {
    const { rec, result } = await this.timed(step, gvArgv('vzdump', VMID, '--mode', mode, '--remove', '0'), { env, warmPaths: [disk] });
    Object.assign(rec, parseTaskLog(result.stderr));
    const dt = rec.downtime.kind === 'none' ? 'no pause' : `${rec.downtime.kind} ${rec.downtime.ms} ms`;
    log(`  ${step}: ${rec.incremental ? `incremental, ${mib(rec.dirtyBytes ?? 0)} MiB dirty` : 'full read'}, read ${rec.readBytes == null ? '?' : mib(rec.readBytes)} MiB, ` +
      `data phase ${rec.dataSeconds ?? '?'} s of ${rec.seconds.toFixed(2)} s, downtime: ${dt}`);
    return rec;
  }
}

// ---------------------------------------------------------------------------

async function guestvaultRound(rd, ctx, verify) {
  const { opts, image, blocks, sockDir } = ctx;
  const home = join(opts.workdir, 'vm-home');
  const qmpSock = join(sockDir, 'bench.qmp');
  const nbdSock = join(sockDir, 'nbd.sock');
  const zstOut = join(opts.workdir, 'tmp', 'nbdcopy.zst');
  removeTree(home);
  rmSync(qmpSock, { force: true });
  mkdirSync(home, { recursive: true });
  const env = guestvaultEnv(opts, { GUESTVAULT_HOME: home });
  ctx.home = home;
  let qmp = null;
  let daemon = null;
  try {
    rd.setup('init', gvArgv('init'), { env });
    if (opts.daemon) {
      // The node's daemon, as on a deployed node (scripts/demo.sh starts it): `guestvault vzdump`
      // hands its backups to it. Without the default jobs, so no scheduled run lands in a round.
      for (const job of ['default-weekdays', 'default-sunday']) rd.setup(`job delete ${job}`, gvArgv('job', 'delete', job), { env });
      daemon = await startDaemon(home, env);
      rd.daemon = daemon.pid;
    }
    const disk = `local:0,import-from=${image.base}${opts.format === 'raw' ? ',format=raw' : ''}`;
    rd.setup('vm create', gvArgv('vm', 'create', VMID, `--${DISK}`, disk, '--args', `-qmp unix:${qmpSock},server=on,wait=off`), { env });
    rd.setup('vm start', gvArgv('vm', 'start', VMID), { env });
    rd.qemu = qemuPid(home);
    if (!rd.qemu) throw new StepFailed(`VM ${VMID} started, but its QEMU process was not found`);
    const volumes = readdirSync(join(home, 'images', VMID)).map((f) => join(home, 'images', VMID, f));
    if (volumes.length !== 1) throw new StepFailed(`expected one volume in ${join(home, 'images', VMID)}, found ${volumes.length}`);
    const volume = volumes[0];
    log(`  disk volume ${volume} (${mib(statSync(volume).size)} MiB on the host); QEMU pid ${rd.qemu}`);
    qmp = await Qmp.connect(qmpSock);
    const status = await qmp.execute('query-status');
    if (status.status !== 'running') throw new StepFailed(`VM ${VMID} is ${status.status}, not running`);
    const idleBefore = processCpuSeconds(rd.qemu);
    await sleep(1000);
    rd.qemuIdleCpuShare = processCpuSeconds(rd.qemu) - idleBefore; // CPU-seconds per second

    // 1. the anchor: nbdcopy | zstd -1 -T0 of the same disk, exported read-only by the same QEMU
    rmSync(nbdSock, { force: true });
    rmSync(zstOut, { force: true });
    await qmp.execute('nbd-server-start', { addr: { type: 'unix', data: { path: nbdSock } } });
    try {
      await qmp.execute('block-export-add', { type: 'nbd', id: 'bench', 'node-name': NODE, name: NODE, writable: false });
      const uri = `nbd+unix:///${NODE}?socket=${nbdSock}`;
      const { rec } = await rd.timed('nbdcopy', ['bash', '-c', 'set -o pipefail; nbdcopy -- "$1" - | zstd -1 -T0 -q > "$2"', 'bash', uri, zstOut], { warmPaths: [volume] });
      rec.outputBytes = statSync(zstOut).size;
    } finally {
      await qmp.execute('block-export-del', { id: 'bench', mode: 'hard' }).catch(() => undefined);
      // the export goes away asynchronously; nbd-server-stop waits for nothing
      for (let i = 0; i < 50; i++) {
        const exports = await qmp.execute('query-block-exports').catch(() => []);
        if (!exports.some((e) => e.id === 'bench')) break;
        await sleep(100);
      }
      await qmp.execute('nbd-server-stop').catch((e) => log(`  nbd-server-stop: ${e.message}`));
      rmSync(nbdSock, { force: true });
    }
    if (verify) {
      const same = run(['bash', '-c', 'set -o pipefail; zstd -dc -- "$1" | cmp -s - "$2"', 'bash', zstOut, image.base]).ok;
      if (!same) throw new StepFailed(`nbdcopy's output (${zstOut}) decompressed differs from ${image.base}`);
      log(`  nbdcopy: output checked: decompressed it equals the base image`);
    }
    rmSync(zstOut, { force: true });

    // 2. full backup, snapshot mode
    let started = Date.now();
    const full = await rd.vzdump('full', 'snapshot', env, volume);
    if (full.incremental) log(`  WARNING: the first backup was incremental?`);

    // 3. rewrite 2 % of the blocks as the guest would (through the virtio disk's BlockBackend)
    for (const b of blocks) {
      const out = await qmp.hmp(`qemu-io -d ${DISK}/virtio-backend "write -s ${b.file} ${b.offset} ${b.length}"`);
      if (out && /error|fail|invalid/i.test(out)) throw new StepFailed(`qemu-io write at ${b.offset}: ${out.trim()}`);
    }
    log(`  wrote ${blocks.length} x 4 MiB through ${DISK} (${((blocks.length * BLOCK) / image.size * 100).toFixed(1)} % of the disk)`);
    await nextSecond(started);

    // 4. incremental, snapshot mode
    started = Date.now();
    const inc = await rd.vzdump('incremental', 'snapshot', env, volume);
    const expected = blocks.length * BLOCK;
    if (!inc.incremental) log(`  WARNING: the second backup was not incremental (dirty bitmap not used)`);
    else if (inc.dirtyBytes !== expected) log(`  WARNING: ${inc.dirtyBytes} B dirty, expected ${expected} B`);
    await nextSecond(started);

    // 5. suspend mode on the unchanged VM: the pause of suspend mode
    const sus = await rd.vzdump('suspend', 'suspend', env, volume);
    if (sus.downtime.kind !== 'paused') log(`  WARNING: no "paused for N ms" in the suspend-mode task log`);

    // 6. the same VM as a vzdump archive (dir storage format), then restored from it
    const archives = join(opts.workdir, 'tmp', 'archives');
    removeTree(archives);
    mkdirSync(archives, { recursive: true });
    await rd.timed('archive', gvArgv('vzdump', VMID, '--dumpdir', archives, '--compress', 'zstd', '--zstd', String(cpus().length)), { env, warmPaths: [volume] });
    const archive = join(archives, readdirSync(archives).find((f) => f.endsWith('.vma.zst')));
    rd.steps.archive.outputBytes = statSync(archive).size;
    const unpacked = join(opts.workdir, 'tmp', 'archive.vma');
    await rd.timed('zstd -d', ['bash', '-c', 'zstd -q -d -c -- "$1" > "$2"', 'bash', archive, unpacked], { warmPaths: [archive] });
    rmSync(unpacked, { force: true });
    await rd.timed('archive restore', gvArgv('qmrestore', archive, RESTORE_VMID, '--format', 'raw'), { env, warmPaths: [archive] });
    if (verify) {
      const restored = readdirSync(join(home, 'images', RESTORE_VMID)).map((f) => join(home, 'images', RESTORE_VMID, f));
      if (restored.length !== 1 || !sameContent(restored[0], image.changed)) throw new StepFailed(`the disk restored from ${archive} differs from ${image.changed}`);
      log(`  archive restore check: VM ${RESTORE_VMID}'s disk equals the changed image`);
    }
    removeTree(archives);

    if (verify) {
      // the newest snapshot must hold exactly the changed image
      const list = rd.setup('snapshots', gvArgv('snapshots', '--store', 'local', '--output-format', 'json'), { env });
      const snaps = JSON.parse(list.stdout);
      const newest = snaps.reduce((a, b) => ((b['backup-time'] ?? 0) > (a['backup-time'] ?? 0) ? b : a));
      const target = join(opts.workdir, 'tmp', 'vm-restore.img');
      rmSync(target, { force: true });
      rd.setup('restore check', gvArgv('restore', '--store', 'local', newest.snapshot, `${NODE}.img`, target), { env });
      const same = sameContent(target, image.changed);
      rmSync(target, { force: true });
      if (!same) throw new StepFailed(`the disk restored from ${newest.snapshot} differs from ${image.changed}`);
      log(`  restore check: ${newest.snapshot} ${NODE}.img equals the changed image (${snaps.length} snapshots)`);
    }
    rd.datastoreBytes = duBytes(join(home, 'datastores', 'local'));
  } finally {
    qmp?.close();
    await stopVm(rd, env);
    if (daemon?.pid) rd.daemonHwmKiB = processHwmKiB(daemon.pid);
    await stopDaemon(daemon);
    rd.daemon = null;
    removeTree(home);
    rmSync(zstOut, { force: true });
  }
}

/** `guestvault daemon --no-api` in the background; resolves once its CLI socket listens. */
async function startDaemon(home, env) {
  const socket = join(home, 'run', 'guestvault.sock');
  const child = spawn(gvArgv('daemon', '--no-api')[0], gvArgv('daemon', '--no-api').slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (out += b));
  for (let i = 0; i < 300 && !existsSync(socket); i++) {
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  if (!existsSync(socket)) {
    child.kill('SIGKILL');
    throw new StepFailed(`guestvault daemon did not start:\n${out}`);
  }
  log(`  daemon: pid ${child.pid}, vzdump runs are handed to it (--no-daemon: each in its own process)`);
  return child;
}

async function stopDaemon(child) {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(30_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** rm -rf, timed and logged when slow (a datastore has 65536 chunk directories; discard makes rmdir slow). */
function removeTree(path) {
  if (!existsSync(path)) return;
  const t = process.hrtime.bigint();
  rmSync(path, { recursive: true, force: true });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (s > 2) log(`  removed ${path} in ${s.toFixed(1)} s (untimed)`);
}

/** Stop the VM (guestvault vm stop, then our QEMU pid if it is still there). */
async function stopVm(rd, env) {
  const pid = rd.qemu ?? (env.GUESTVAULT_HOME ? qemuPid(env.GUESTVAULT_HOME) : null);
  if (pid) rd.qemuHwmKiB = processHwmKiB(pid);
  if (pid || existsSync(join(env.GUESTVAULT_HOME, 'run', 'qemu', `${VMID}.pid`))) {
    const r = run(gvArgv('vm', 'stop', VMID), { env });
    if (!r.ok) log(`  vm stop: ${(r.stderr || r.stdout).trim()}`);
  }
  if (pid) {
    for (let i = 0; i < 50 && processCpuSeconds(pid) != null; i++) await sleep(100);
    if (processCpuSeconds(pid) != null) {
      log(`  QEMU ${pid} still there: SIGKILL`);
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
  rd.qemu = null;
}

/** restic and borg on the raw image file: first backup, then the changed image at the same path. */
async function peerRound(rd, peer, ctx) {
  const { opts, image } = ctx;
  const work = join(opts.workdir, 'vm-peers');
  const src = join(work, 'src', 'disk.img');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(dirname(src), { recursive: true });
  const use = (path) => {
    rmSync(src, { force: true });
    linkSync(path, src);
  };
  try {
    if (peer === 'restic') {
      const env = { ...process.env, RESTIC_REPOSITORY: join(work, 'repo'), RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: join(work, 'cache') };
      rd.setup('restic init', ['restic', 'init', '--repository-version', '2'], { env });
      use(image.base);
      await rd.timed('restic first', ['restic', 'backup', '--host', 'bench', src], { env, warmPaths: [src] });
      use(image.changed);
      await rd.timed('restic changed', ['restic', 'backup', '--host', 'bench', src], { env, warmPaths: [src] });
    } else {
      const repo = join(work, 'repo');
      const env = { ...process.env, BORG_BASE_DIR: join(work, 'home'), BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes', BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes' };
      rd.setup('borg init', ['borg', 'init', '--encryption=none', repo], { env });
      use(image.base);
      await rd.timed('borg first', ['borg', 'create', '--compression', 'zstd,1', `${repo}::first`, src], { env, warmPaths: [src] });
      use(image.changed);
      await rd.timed('borg changed', ['borg', 'create', '--compression', 'zstd,1', `${repo}::changed`, src], { env, warmPaths: [src] });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Report

const STEP_ROWS = [
  { step: 'nbdcopy', label: 'nbdcopy | zstd -1 -T0 (whole disk)' },
  { step: 'full', label: 'guestvault full, snapshot mode' },
  { step: 'incremental', label: 'guestvault incremental (2 % changed), snapshot' },
  { step: 'suspend', label: 'guestvault unchanged, suspend mode' },
  { step: 'archive', label: 'guestvault archive (vzdump --compress zstd)' },
  { step: 'zstd -d', label: 'zstd -d of the archive to a file' },
  { step: 'archive restore', label: 'guestvault qmrestore of the archive (raw)' },
  { step: 'restic first', label: 'restic, raw image, first' },
  { step: 'restic changed', label: 'restic, raw image, changed' },
  { step: 'borg first', label: 'borg, raw image, first' },
  { step: 'borg changed', label: 'borg, raw image, changed' },
];

/** Median over the rounds of each step that succeeded in every round (RSS: maximum). */
function combine(rounds) {
  const out = {};
  const names = [...new Set(rounds.flatMap((r) => Object.keys(r.steps)))];
  for (const name of names) {
    const recs = rounds.map((r) => r.steps[name]);
    if (recs.some((x) => !x || x.status !== 'ok')) {
      out[name] = { status: 'failed' };
      continue;
    }
    const med = (k) => (recs.every((x) => x[k] != null) ? median(recs.map((x) => x[k])) : null);
    const seconds = med('seconds');
    const rss = recs.map((x) => x.rssKiB).filter((x) => x != null);
    out[name] = {
      status: 'ok',
      seconds,
      secondsAll: recs.map((x) => x.seconds),
      mibPerSecond: recs[0].mibPerSecond * (recs[0].seconds / seconds),
      cpuSeconds: med('cpuSeconds'),
      qemuCpuSeconds: med('qemuCpuSeconds'),
      flushSeconds: med('flushSeconds'),
      rssKiB: rss.length ? Math.max(...rss) : null,
      readBytes: med('readBytes'),
      dataSeconds: med('dataSeconds'),
      outputBytes: med('outputBytes'),
      downtime: recs[0].downtime ? { kind: recs[0].downtime.kind, ms: median(recs.map((x) => x.downtime.ms)), msAll: recs.map((x) => x.downtime.ms) } : undefined,
      consistency: recs[0].consistency,
      incremental: recs[0].incremental,
    };
  }
  return out;
}

function table(header, lines) {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

function stepTable(res) {
  const n = (v, d = 2) => (v == null ? '-' : v.toFixed(d));
  const lines = STEP_ROWS.filter((r) => res[r.step]).map((r) => {
    const s = res[r.step];
    if (s.status !== 'ok') return [r.label, 'failed', '', '', '', '', '', '', ''];
    const dt = s.downtime ? (s.downtime.kind === 'none' ? 'none' : `${s.downtime.ms} ms`) : '';
    return [r.label, n(s.seconds), n(s.mibPerSecond, 0), n(s.dataSeconds, 1), s.readBytes == null ? '' : mib(s.readBytes),
      n(s.cpuSeconds), n(s.qemuCpuSeconds), s.rssKiB == null ? '-' : mib(s.rssKiB * 1024), dt];
  });
  return table(['step', 'time (s)', 'MiB/s [1]', 'data (s) [2]', 'read MiB', 'CPU s', 'QEMU CPU s', 'peak RSS MiB', 'downtime'], lines);
}

/** Ratios of the median times (and, with several rounds, of each round's own times). */
function ratios(res, rounds) {
  const sec = (k) => (res[k]?.status === 'ok' ? res[k].seconds : null);
  const out = [];
  const add = (text, num, den, min) => {
    const a = sec(num);
    const b = sec(den);
    if (a == null || b == null) return out.push({ text, status: min == null ? '' : 'n/a', value: null, detail: `${a == null ? num : den} missing or failed` });
    const v = a / b;
    const each = rounds.length > 1 ? rounds.map((r) => r.steps[num].seconds / r.steps[den].seconds) : [];
    out.push({
      text, status: min == null ? '' : v >= min ? 'MET' : 'NOT MET', value: v, rounds: each,
      detail: `${v.toFixed(2)}x (${num} ${a.toFixed(2)} s, ${den} ${b.toFixed(2)} s)${each.length ? `; rounds ${each.map((x) => x.toFixed(2)).join(', ')}` : ''}`,
    });
  };
  add('full backup rate >= 0.7x that of nbdcopy | zstd -1 -T0', 'nbdcopy', 'full', 0.7);
  add('incremental (2 % changed) >= 15x faster than the full backup', 'full', 'incremental', 15);
  add('archive rate >= 0.8x that of nbdcopy | zstd -1 -T0', 'nbdcopy', 'archive', 0.8);
  add('archive restore at least as fast as zstd -d of the archive', 'zstd -d', 'archive restore', 1.0);
  add('restic first ÷ guestvault full', 'restic first', 'full');
  add('borg first ÷ guestvault full', 'borg first', 'full');
  add('restic changed ÷ guestvault incremental', 'restic changed', 'incremental');
  add('borg changed ÷ guestvault incremental', 'borg changed', 'incremental');
  return out;
}

function downtimeLines(res) {
  const lines = [];
  const snap = [res.full, res.incremental].filter((s) => s?.status === 'ok');
  if (snap.length) {
    const ms = snap.map((s) => s.downtime.ms);
    lines.push(`snapshot: ${ms.every((m) => m === 0) ? 'no pause' : `${Math.max(...ms)} ms`} — ${snap[0].consistency ?? 'see the task log'}; ` +
      'the point-in-time view (copy-before-write fleecing) is taken while the guest runs');
  } else lines.push('snapshot: not measured (the backups failed)');
  const s = res.suspend;
  if (s?.status === 'ok') {
    lines.push(`suspend:  paused ${s.downtime.ms} ms (median; rounds: ${s.downtime.msAll.join(', ')} ms) — from QMP stop until cont ` +
      'right after the point-in-time view is taken; the data is read afterwards, so it does not grow with the disk');
  } else lines.push('suspend:  not measured (the suspend-mode backup failed)');
  lines.push('stop:     not measured — stop mode shuts the guest down (ACPI power button / guest agent) and waits up to\n' +
    '          --stopwait minutes; this VM has no guest OS, so it never powers off and vzdump fails with E_SHUTDOWN_TIMEOUT.\n' +
    '          With an OS, stop-mode downtime = guest shutdown + QEMU restart + taking the view (the data is read after the restart).');
  return lines;
}

const NOTES = [
  'The VM: QEMU (TCG, no guest OS) started by `guestvault vm start`; its disk is the benchmark mix imported with\n' +
  '  `vm create --virtio0 local:0,import-from=<base.img>`. Host page cache warm: the volume (or the image file for\n' +
  '  restic/borg) is read once before each timed step; `sync` runs before and after each step (untimed).\n' +
  '  Before each step (untimed): a scratch file of --prewarm GiB (default 2) is written and deleted (unsynced: no write-back),\n' +
  '  so that every step and anchor writes into page cache that was just freed, as on a host whose memory is full of cache.\n' +
  '  Without it, on a VM with free page reporting, a step right after a large deletion ran 2-3x faster.',
  'nbdcopy: `nbdcopy nbd+unix:///drive-virtio0?socket=… - | zstd -1 -T0 -q > file`, the live disk exported read-only\n' +
  '  by the same QEMU (nbd-server-start + block-export-add over a second QMP monitor); no point-in-time view and no\n' +
  '  fsync (its write-back is the "sync afterwards" in the log), whereas guestvault syncs its datastore before the\n' +
  '  manifest (inside its time).',
  'The 2 % change: the changed blocks of bench/image.js written with `qemu-io -d virtio0/virtio-backend "write -s …"`\n' +
  '  (HMP over the second QMP monitor), i.e. through the guest\'s virtio disk, so the dirty bitmap sees them; the\n' +
  '  disk then equals the changed image that restic and borg read (checked by a restore in round 1).',
  'vzdump runs with --remove 0 (no prune after the backup); each round has a fresh GUESTVAULT_HOME (init).',
  'guestvault\'s processes run without NODE_EXTRA_CA_CERTS unless --keep-node-env: it only adds CAs for TLS, which no\n' +
  '  timed command uses, yet Node 20 parses the bundle it names at every start (see "node start-up" above: the difference\n' +
  '  is the fixed cost it adds to each command); a Proxmox node does not set it. zstd, nbdcopy, restic and borg are unaffected.',
  'Unless --no-daemon: `guestvault daemon --no-api` runs in each round (default jobs deleted) and every',
  '  `guestvault vzdump` hands its backup to it over run/guestvault.sock; CPU s then includes the daemon\'s CPU.',
  'restic (encrypted, repository v2, compression auto) and borg (--encryption=none, zstd,1) back up the raw image\n' +
  '  file; the changed image is switched in under the same path by a hard link, and both re-read the whole file.',
  '[1] disk size ÷ time, also for the incremental steps. [2] guestvault\'s own "N.Ns" for reading and storing the disk\n' +
  '  (from its task log); the rest of the time is start-up, QMP, fleecing set-up/teardown, index, sync and manifest.',
  'CPU s: user + system of the command\'s process tree (GNU time); QEMU CPU s: the VM\'s QEMU process during the step\n' +
  '  (serving NBD, copy-before-write). Peak RSS: GNU time %M, the largest single process of the tree (the\n' +
  '  client\'s when the daemon ran the step: the daemon\'s own peak is printed under the table).',
  'Times are wall clock (process.hrtime); with --repeat N the median of N rounds.',
];

// ---------------------------------------------------------------------------

let cleanupOnSignal = () => {};

async function main() {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    console.error(`${e.message}\n\n${HELP}`);
    process.exit(2);
  }
  const loadAtStart = loadavg();
  log(`guestvault VM benchmark: disk ${mib(opts.size)} MiB (${opts.format}), peers ${opts.peers.join(', ') || 'none'}, work dir ${opts.workdir}`);
  if (!existsSync(join(PROJECT, 'dist', 'cli', 'main.js'))) {
    console.error('dist/cli/main.js is missing: build first (npm run build; npm run bench:vm does it)');
    process.exit(1);
  }

  const needs = [
    { command: TIME, pkg: 'time' }, { command: 'cmp', pkg: 'diffutils' }, { command: 'bash', pkg: 'bash' },
    { command: 'qemu-system-x86_64', pkg: 'qemu-system-x86' }, { command: 'qemu-img', pkg: 'qemu-utils' },
    { command: 'nbdcopy', pkg: 'libnbd-bin' }, { command: 'zstd', pkg: 'zstd' },
    ...(opts.peers.includes('restic') ? [{ command: 'restic', pkg: 'restic' }] : []),
    ...(opts.peers.includes('borg') ? [{ command: 'borg', pkg: 'borgbackup' }] : []),
  ];
  const missing = ensureCommands(needs, log);
  const essential = missing.filter((c) => !PEERS.includes(c));
  if (essential.length) {
    console.error(`cannot run without ${essential.join(', ')}`);
    process.exit(1);
  }
  const peers = opts.peers.filter((p) => findCommand(p));
  for (const p of opts.peers.filter((x) => !peers.includes(x))) log(`  ${p} is not installed and could not be installed: skipped`);
  const versions = {
    node: process.version,
    guestvault: versionOf(gvArgv('--version')),
    qemu: versionOf(['qemu-system-x86_64', '--version']),
    nbdcopy: versionOf(['nbdcopy', '--version']),
    zstd: versionOf(['zstd', '--version']),
    restic: peers.includes('restic') ? versionOf(['restic', 'version']) : undefined,
    borg: peers.includes('borg') ? versionOf(['borg', '--version']) : undefined,
  };
  for (const [k, v] of Object.entries(versions)) if (v) log(`  ${k}: ${v}`);
  log(`  accelerator: ${existsSync('/dev/kvm') ? 'kvm' : 'tcg'}`);
  log(`  ${nodeStartLine()}`);
  log(`  ${nodeEnvLine(opts)}`);

  mkdirSync(join(opts.workdir, 'tmp'), { recursive: true });
  log('\n== images');
  const image = prepareImages({ dir: join(opts.workdir, 'image', `${opts.size / MiB}M`), size: opts.size, seed: opts.seed, regenerate: opts.regen, log: (m) => log(`  ${m}`) });
  const share = image.mix.share;
  log(`  ${image.mix.regions} regions: ${(share.zero * 100).toFixed(1)} % zeros, ${(share.text * 100).toFixed(1)} % text, ` +
    `${(share.random * 100).toFixed(1)} % random; changed copy: ${image.changedBlocks} x 4 MiB rewritten`);

  // Unix socket paths are limited to 107 bytes: keep our sockets in a short temporary directory.
  const sockDir = mkdtempSync(join(tmpdir(), 'gvbench-'));
  const ctx = { opts, image, sockDir, blocks: extractChangedBlocks(image, opts.seed, join(sockDir, 'blocks')), home: null };
  let current = null;
  cleanupOnSignal = () => {
    const pid = ctx.home ? qemuPid(ctx.home) : null;
    if (pid) {
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    }
    rmSync(sockDir, { recursive: true, force: true });
    // The datastore's 65536 chunk directories take long to remove (and longer with discard): the
    // next run removes what is left.
    if (ctx.home) console.error(`left for the next run to remove: ${ctx.home}, ${join(opts.workdir, 'vm-peers')}`);
  };

  const rounds = [];
  try {
    for (let round = 1; round <= opts.repeat; round++) {
      const rd = new Round(opts, image);
      current = rd;
      rounds.push(rd);
      const of = opts.repeat > 1 ? ` (round ${round} of ${opts.repeat})` : '';
      log(`\n== guestvault VM backup${of}`);
      try {
        await guestvaultRound(rd, ctx, round === 1);
      } catch (e) {
        rd.errors.guestvault = e instanceof StepFailed ? e.message : (e?.stack ?? String(e));
        log(`  FAILED: ${rd.errors.guestvault.split('\n').join('\n    ')}`);
      }
      for (const peer of peers) {
        log(`\n== ${peer} on the raw image file${of}`);
        try {
          await peerRound(rd, peer, ctx);
        } catch (e) {
          rd.errors[peer] = e instanceof StepFailed ? e.message : (e?.stack ?? String(e));
          log(`  FAILED: ${rd.errors[peer].split('\n').join('\n    ')}`);
        }
      }
    }
  } finally {
    if (current?.qemu) await stopVm(current, guestvaultEnv(opts, { GUESTVAULT_HOME: ctx.home }));
    rmSync(sockDir, { recursive: true, force: true });
  }

  const res = combine(rounds);
  const goals = ratios(res, rounds);
  const cores = cpus().length;
  let wall = 0;
  let other = 0;
  for (const r of rounds) for (const s of Object.values(r.steps)) { wall += s.seconds ?? 0; other += s.otherCpuSeconds ?? 0; }
  const interference = { wallSeconds: wall, otherCpuSeconds: other, share: wall ? other / (wall * cores) : 0 };

  log(`\n== results (disk ${mib(image.size)} MiB ${opts.format}, ${image.changedBlocks} x 4 MiB changed; ${cores} CPUs, ` +
    `${(totalmem() / GiB).toFixed(1)} GiB RAM; ${opts.repeat > 1 ? `median of ${opts.repeat} rounds` : 'one round'}; ` +
    `load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')})\n`);
  log(stepTable(res));
  const qemuHwm = rounds.map((r) => r.qemuHwmKiB).filter((x) => x != null);
  const idle = rounds.map((r) => r.qemuIdleCpuShare).filter((x) => x != null);
  if (qemuHwm.length) log(`\nQEMU: peak RSS ${mib(Math.max(...qemuHwm) * 1024)} MiB; idle CPU before the steps ${(median(idle) * 100).toFixed(0)} % of a core`);
  const daemonHwm = rounds.map((r) => r.daemonHwmKiB).filter((x) => x != null);
  // The steps' peak RSS is the command line client's when a daemon took the run.
  if (daemonHwm.length) log(`guestvault daemon (ran the vzdump steps): peak RSS ${mib(Math.max(...daemonHwm) * 1024)} MiB over a round`);
  const ds = rounds.map((r) => r.datastoreBytes).filter((x) => x != null);
  if (ds.length) log(`datastore after the three backups: ${mib(median(ds))} MiB; nbdcopy | zstd output: ${res.nbdcopy?.outputBytes == null ? '-' : mib(res.nbdcopy.outputBytes)} MiB`);
  log(`\nratios and targets:\n${goals.map((g) => `  ${(g.status || '').padEnd(7)}  ${g.text.padEnd(62)}  ${g.detail}`).join('\n')}`);
  log(`\nguest downtime per mode:\n${downtimeLines(res).map((l) => `  ${l}`).join('\n')}`);
  const failed = rounds.flatMap((r, i) => Object.entries(r.errors).map(([k, v]) => `round ${i + 1}, ${k}: ${v.split('\n').slice(0, 12).join('\n    ')}`));
  if (failed.length) log(`\nfailed:\n${failed.map((f) => `  ${f}`).join('\n')}`);
  if (interference.share > 0.05) {
    log(`\nWARNING: other processes (or the hypervisor) used ${interference.otherCpuSeconds.toFixed(1)} CPU-seconds during the ` +
      `${interference.wallSeconds.toFixed(1)} s of timed steps (${(interference.share * 100).toFixed(0)} % of the machine's capacity, ` +
      'QEMU excluded): the times are disturbed; rerun on an idle machine and/or with --repeat.');
  }
  log(`\nnotes:\n${NOTES.map((n) => `- ${n}`).join('\n')}`);

  const out = join(opts.workdir, 'vm-results.json');
  writeFileSync(out, JSON.stringify({
    date: new Date().toISOString(),
    machine: { cpus: cores, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), kernel: release(), kvm: existsSync('/dev/kvm'), loadAverage: { start: loadAtStart, end: loadavg() } },
    options: { ...opts, sizeGiB: opts.size / GiB },
    versions,
    image: { ...image, changes: ctx.blocks.map((b) => b.block) },
    interference,
    steps: res,
    rounds: rounds.map((r) => ({ steps: r.steps, errors: r.errors, qemuHwmKiB: r.qemuHwmKiB, daemonHwmKiB: r.daemonHwmKiB, qemuIdleCpuShare: r.qemuIdleCpuShare, datastoreBytes: r.datastoreBytes })),
    ratios: goals,
    downtime: downtimeLines(res),
    notes: NOTES,
  }, null, 2) + '\n');
  log(`\nresults written to ${out}`);
  if (failed.length) process.exitCode = 1;
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping the VM and removing temporary files`);
    cleanupOnSignal();
    process.exit(130);
  });
}

main().catch((e) => {
  console.error(e?.stack ?? String(e));
  cleanupOnSignal();
  process.exit(1);
});
