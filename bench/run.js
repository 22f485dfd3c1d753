#!/usr/bin/env node
// guestvault benchmark (not a test): times guestvault against restic, borg and
// plain zstd on a synthetic VM disk image. See `node bench/run.js --help`.

import { existsSync, linkSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import console from 'node:console';
import process from 'node:process';

import { MiB, prepareImages } from './image.js';
import { STEPS_OF, mainTable, speedupTable, speedups, targetLines, targets } from './report.js';
import { TIME, duBytes, ensureCommands, findCommand, run, runTimed, sameContent, sync, versionOf, warm, warmTree } from './tools.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PROJECT = resolve(HERE, '..');
const ALL_TOOLS = ['guestvault', 'restic', 'borg', 'zstd'];
const GiB = 1024 * MiB;

const HELP = `Usage: node bench/run.js [options]      (or: npm run bench -- [options])

Benchmark (not a test) of guestvault against restic, borg and zstd on a
synthetic, deterministic VM disk image (about 30 % zeros, 30 % log-like text,
40 % random data, in mixed regions of a few MiB) and a copy of it with 2 % of its
4 MiB blocks rewritten. For each tool it times, on a warm page cache:
the first backup, a backup of the unchanged image, a backup of the changed
image (same path, so it deduplicates against the previous snapshot) and a
restore of the latest snapshot (checked with cmp), and it measures the peak
RSS (GNU time %M) and the repository growth (du -sb) after each backup.
zstd -1 -T0 is the file-level anchor (first backup and its decompression only).

Options:
  --size GiB        image size in GiB, rounded to 4 MiB (default 2; 0.25 for a quick run)
  --workdir DIR     working directory (default bench/work); images are kept
                    in DIR/image/<size>M/ and reused when the seed matches; repositories
                    are recreated on every run; results go to DIR/results.json
  --tools LIST      comma-separated subset of ${ALL_TOOLS.join(',')} (default: all)
  --seed TEXT       seed of the image generator (default guestvault-bench-1)
  --regen           regenerate the images even if cached ones match
  --repeat N        run every tool's sequence N times (tools interleaved per
                    round, repositories recreated each round) and report the
                    median time of each step (default 1)
  --timeout SEC     kill any single command after SEC seconds (default 3600)
  -h, --help        show this help

Missing tools are installed with apt-get (restic, borgbackup, zstd, time).
guestvault runs as \`node bin/guestvault.js\` from the built dist/ (npm run bench
builds first) with GUESTVAULT_HOME=<workdir>/gv-home.
`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      size: { type: 'string', default: '2' },
      workdir: { type: 'string', default: join(HERE, 'work') },
      tools: { type: 'string', default: ALL_TOOLS.join(',') },
      seed: { type: 'string', default: 'guestvault-bench-1' },
      regen: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '3600' },
      repeat: { type: 'string', default: '1' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const gib = Number(values.size);
  if (!Number.isFinite(gib) || gib <= 0) throw new Error(`--size: not a positive number: ${values.size}`);
  const size = Math.max(1, Math.round((gib * GiB) / (4 * MiB))) * 4 * MiB;
  const tools = values.tools.split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of tools) if (!ALL_TOOLS.includes(t)) throw new Error(`--tools: unknown tool ${t} (known: ${ALL_TOOLS.join(', ')})`);
  const timeout = Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new Error(`--timeout: not a positive number: ${values.timeout}`);
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat: not a positive integer: ${values.repeat}`);
  return {
    size,
    repeat,
    workdir: resolve(values.workdir),
    tools: ALL_TOOLS.filter((t) => tools.includes(t)), // fixed order
    seed: values.seed,
    regen: values.regen,
    timeout,
  };
}

const log = (...a) => console.log(...a);
const quote = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
const mib = (b) => (b / MiB).toFixed(1);

class StepFailed extends Error {}

function describe(rec) {
  const other = rec.otherCpuSeconds == null ? '' : `, others ${rec.otherCpuSeconds.toFixed(2)} s CPU`;
  return `${rec.seconds.toFixed(2)} s (${rec.mibPerSecond.toFixed(0)} MiB/s), CPU ${rec.cpuSeconds?.toFixed(2) ?? '?'} s${other}, ` +
    `peak RSS ${rec.rssKiB == null ? '?' : mib(rec.rssKiB * 1024)} MiB`;
}

/** One tool's run: its timed steps, repository sizes and failure, if any. */
class ToolRun {
  constructor(name, opts, image) {
    this.name = name;
    this.opts = opts;
    this.image = image;
    this.status = 'ok';
    this.error = null;
    this.steps = {};
    this.repo = null; // the path whose du -sb is the repository size
    this.repoBytes = null;
    this.rssFile = join(opts.workdir, 'tmp', `time-${name}.txt`);
  }

  /** An untimed command that must succeed (init, listing, ...). */
  setup(what, argv, { env, cwd } = {}) {
    log(`  [${this.name}] ${what}: $ ${argv.map(quote).join(' ')}`);
    const r = run(argv, { env, cwd });
    if (!r.ok) throw new StepFailed(`${what} failed (exit ${r.code}):\n${r.stderr.trim() || r.stdout.trim()}`);
    return r;
  }

  setRepo(path) {
    this.repo = path;
    this.repoBytes = existsSync(path) ? duBytes(path) : 0;
  }

  /** A timed command; records seconds and peak RSS under `step`; throws StepFailed. */
  async timed(step, argv, { env, cwd } = {}) {
    log(`  [${this.name}] ${step}: $ ${argv.map(quote).join(' ')}`);
    sync(); // settle earlier writes and deletions (the file system may be mounted with discard)
    const r = await runTimed(argv, { env, cwd, rssFile: this.rssFile, timeoutSeconds: this.opts.timeout });
    const rec = {
      status: r.ok ? 'ok' : 'failed',
      seconds: r.seconds,
      rssKiB: r.rssKiB,
      cpuSeconds: r.cpuSeconds,
      otherCpuSeconds: r.otherCpuSeconds,
      exitCode: r.code,
      mibPerSecond: this.image.size / MiB / r.seconds,
    };
    this.steps[step] = rec;
    if (!r.ok) {
      rec.stderr = r.stderr.slice(-8192);
      throw new StepFailed(`${step} failed (exit ${r.code ?? r.signal}${r.timedOut ? ', timed out' : ''}) after ${r.seconds.toFixed(2)} s:\n${r.stderr.trim() || r.stdout.trim().slice(-4096)}`);
    }
    sync(); // flush this step's dirty pages before anything else is timed
    return { rec, result: r };
  }

  /** A timed backup: warm the image, run, then measure the repository. */
  async backup(step, argv, opts) {
    warm(this.image.src);
    const { rec, result } = await this.timed(step, argv, opts);
    const before = this.repoBytes;
    this.repoBytes = duBytes(this.repo);
    rec.repoBytes = this.repoBytes;
    rec.growthBytes = before == null || this.repoBytes == null ? null : this.repoBytes - before;
    log(`  [${this.name}] ${step}: ${describe(rec)}, repository ${mib(rec.repoBytes)} MiB (+${rec.growthBytes} B)`);
    return { rec, result };
  }

  /** A timed restore into `target` (a file), then compared with `expected`. */
  async restore(step, argv, { target, expected, cleanup, ...opts }) {
    warmTree(this.repo);
    const { rec } = await this.timed(step, argv, opts);
    const exists = existsSync(target);
    const same = exists && sameContent(target, expected);
    rec.verified = same;
    rmSync(cleanup ?? target, { recursive: true, force: true });
    if (!same) {
      rec.status = 'failed';
      throw new StepFailed(`${step}: the restored file ${target} ${exists ? 'differs from' : 'is missing, expected a copy of'} ${expected}`);
    }
    log(`  [${this.name}] ${step}: ${describe(rec)}, restored file equals the source`);
  }

  toJSON() {
    return { status: this.status, error: this.error, steps: this.steps };
  }
}

/** CPU used by others during all timed steps, as CPU-seconds and as a share of cores × wall time. */
function interferenceOf(rounds) {
  let wallSeconds = 0;
  let otherCpuSeconds = 0;
  for (const r of Object.values(rounds).flat()) {
    for (const s of Object.values(r.steps)) {
      wallSeconds += s.seconds ?? 0;
      otherCpuSeconds += s.otherCpuSeconds ?? 0;
    }
  }
  return { wallSeconds, otherCpuSeconds, share: wallSeconds ? otherCpuSeconds / (wallSeconds * cpus().length) : 0 };
}

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

/**
 * Merge the rounds of one tool: a step is ok only if it is ok in every round;
 * its time and repository growth are the medians, its peak RSS the maximum,
 * the repository size the last round's.
 */
function combine(runs) {
  const failed = runs.find((r) => r.status === 'failed');
  const out = { status: failed ? 'failed' : 'ok', error: failed?.error ?? null, steps: {} };
  if (runs.length > 1) out.rounds = runs.map((r) => r.toJSON());
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.steps)))];
  for (const name of names) {
    const recs = runs.map((r) => r.steps[name]);
    const last = recs[recs.length - 1];
    if (recs.some((x) => !x || x.status !== 'ok')) {
      out.steps[name] = { ...(recs.find((x) => x && x.status !== 'ok') ?? last), status: 'failed' };
      continue;
    }
    const seconds = median(recs.map((x) => x.seconds));
    const rss = recs.map((x) => x.rssKiB).filter((x) => x != null);
    out.steps[name] = {
      ...last,
      seconds,
      mibPerSecond: last.mibPerSecond * (last.seconds / seconds),
      rssKiB: rss.length ? Math.max(...rss) : null,
      ...(recs.every((x) => x.growthBytes != null) ? { growthBytes: median(recs.map((x) => x.growthBytes)) } : {}),
      ...(runs.length > 1 ? { secondsAll: recs.map((x) => x.seconds) } : {}),
    };
  }
  return out;
}

/** Point the backup source path at `which` (a hard link, so the path stays the same). */
function useImage(image, which) {
  rmSync(image.src, { force: true });
  linkSync(which === 'changed' ? image.changed : image.base, image.src);
}

/** Wait until the wall clock is in a later second than `ms` (snapshot times have 1 s resolution). */
async function nextSecond(ms) {
  const wait = (Math.floor(ms / 1000) + 1) * 1000 + 20 - Date.now();
  if (wait > 0) await sleep(wait);
}

// ---------------------------------------------------------------------------
// The tools. Each gets a ToolRun and the image; throws StepFailed on failure.

async function benchGuestvault(t, image, work) {
  const home = join(work, 'gv-home');
  const store = join(work, 'gv-store');
  const target = join(work, 'restore', 'guestvault.img');
  for (const p of [home, store]) rmSync(p, { recursive: true, force: true });
  if (!existsSync(join(PROJECT, 'dist', 'cli', 'main.js'))) {
    throw new StepFailed(`dist/cli/main.js is missing: build first (npm run build; npm run bench does it)`);
  }
  const env = { ...process.env, GUESTVAULT_HOME: home };
  const gv = (...args) => [process.execPath, join(PROJECT, 'bin', 'guestvault.js'), ...args];
  t.setup('datastore create', gv('datastore', 'create', 'bench', store), { env });
  t.setRepo(store);
  const backup = gv('backup', '--store', 'bench', '--backup-type', 'vm', '--backup-id', '100', `disk.img:${image.src}`);

  useImage(image, 'base');
  let started = Date.now();
  await t.backup('first', backup, { env });
  await nextSecond(started);
  started = Date.now();
  await t.backup('unchanged', backup, { env });
  useImage(image, 'changed');
  await nextSecond(started);
  await t.backup('changed', backup, { env });

  const list = t.setup('snapshots', gv('snapshots', '--store', 'bench', '--output-format', 'json'), { env });
  let snapshots;
  try {
    snapshots = JSON.parse(list.stdout);
  } catch (e) {
    throw new StepFailed(`snapshots: output is not JSON (${e.message}):\n${list.stdout.slice(0, 2000)}`);
  }
  if (!Array.isArray(snapshots) || snapshots.length === 0) throw new StepFailed(`snapshots: expected a non-empty JSON array, got:\n${list.stdout.slice(0, 2000)}`);
  if (snapshots.length !== 3) log(`  [guestvault] note: ${snapshots.length} snapshots listed, expected 3`);
  const newest = snapshots.reduce((a, b) => ((b['backup-time'] ?? 0) > (a['backup-time'] ?? 0) ? b : a));
  if (typeof newest.snapshot !== 'string') throw new StepFailed(`snapshots: entry without a "snapshot" string: ${JSON.stringify(newest)}`);
  log(`  [guestvault] newest snapshot: ${newest.snapshot}`);

  mkdirSync(dirname(target), { recursive: true });
  rmSync(target, { force: true });
  await t.restore('restore', gv('restore', '--store', 'bench', newest.snapshot, 'disk.img', target), { env, target, expected: image.changed });
}

async function benchRestic(t, image, work) {
  const repo = join(work, 'restic-repo');
  const cache = join(work, 'restic-cache');
  const dir = join(work, 'restore', 'restic');
  for (const p of [repo, cache, dir]) rmSync(p, { recursive: true, force: true });
  const env = { ...process.env, RESTIC_REPOSITORY: repo, RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: cache };
  t.setup('init', ['restic', 'init', '--repository-version', '2'], { env });
  t.setRepo(repo);
  const backup = ['restic', 'backup', '--host', 'bench', image.src];
  useImage(image, 'base');
  await t.backup('first', backup, { env });
  await t.backup('unchanged', backup, { env });
  await t.backup('reread', [...backup.slice(0, 2), '--force', ...backup.slice(2)], { env });
  useImage(image, 'changed');
  await t.backup('changed', backup, { env });
  mkdirSync(dir, { recursive: true });
  await t.restore('restore', ['restic', 'restore', 'latest', '--target', dir], {
    env, target: join(dir, image.src), expected: image.changed, cleanup: dir,
  });
}

async function benchBorg(t, image, work) {
  const repo = join(work, 'borg-repo');
  const base = join(work, 'borg-home');
  const dir = join(work, 'restore', 'borg');
  for (const p of [repo, base, dir]) rmSync(p, { recursive: true, force: true });
  const env = {
    ...process.env,
    BORG_BASE_DIR: base, // cache, config and security dirs inside the work dir
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
    BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
  };
  t.setup('init', ['borg', 'init', '--encryption=none', repo], { env });
  t.setRepo(repo);
  const create = (name, ...extra) => ['borg', 'create', '--compression', 'zstd,1', ...extra, `${repo}::${name}`, image.src];
  useImage(image, 'base');
  await t.backup('first', create('first'), { env });
  await t.backup('unchanged', create('unchanged'), { env });
  await t.backup('reread', create('reread', '--files-cache=disabled'), { env });
  useImage(image, 'changed');
  await t.backup('changed', create('changed'), { env });
  mkdirSync(dir, { recursive: true });
  await t.restore('restore', ['borg', 'extract', `${repo}::changed`], {
    env, cwd: dir, target: join(dir, image.src), expected: image.changed, cleanup: dir,
  });
}

async function benchZstd(t, image, work) {
  const out = join(work, 'zstd', 'disk.img.zst');
  const target = join(work, 'restore', 'zstd.img');
  rmSync(dirname(out), { recursive: true, force: true });
  mkdirSync(dirname(out), { recursive: true });
  mkdirSync(dirname(target), { recursive: true });
  t.setRepo(dirname(out));
  useImage(image, 'base');
  await t.backup('first', ['zstd', '-1', '-T0', '-q', '-f', image.src, '-o', out]);
  rmSync(target, { force: true });
  await t.restore('restore', ['zstd', '-d', '-T0', '-q', '-f', out, '-o', target], { target, expected: image.base });
}

/** Times a plain write of image-size data (dd) and a read of the image from the page cache (cat). */
function calibrate(image, work) {
  const scratch = join(work, 'tmp', 'calibration.bin');
  rmSync(scratch, { force: true });
  warm(image.base);
  sync();
  const seconds = (argv) => {
    const start = process.hrtime.bigint();
    run(argv);
    return Number(process.hrtime.bigint() - start) / 1e9;
  };
  const ddWriteSeconds = seconds(['dd', 'if=/dev/zero', `of=${scratch}`, 'bs=1M', `count=${image.size / MiB}`, 'status=none']);
  rmSync(scratch, { force: true });
  sync();
  const catSeconds = seconds(['sh', '-c', 'cat -- "$1" > /dev/null', 'sh', image.base]);
  return { ddWriteSeconds, catSeconds };
}

const BENCH = { guestvault: benchGuestvault, restic: benchRestic, borg: benchBorg, zstd: benchZstd };
const COMMANDS = {
  guestvault: [],
  restic: [{ command: 'restic', pkg: 'restic' }],
  borg: [{ command: 'borg', pkg: 'borgbackup' }],
  zstd: [{ command: 'zstd', pkg: 'zstd' }],
};

const NOTES = [
  'Page cache: kept warm, never dropped. Before each timed backup the image is read once (cat > /dev/null),\n' +
  '  before each restore the repository is read once; `sync` runs before and after each timed step (untimed).',
  'Peak RSS: GNU time %M, the maximum RSS of the largest single process of the command\'s process tree\n' +
  '  (threads count with their process; child processes are not summed).',
  'restic always encrypts (AES-256-CTR + Poly1305); repository format 2, compression "auto" (zstd).',
  'borg: --encryption=none, --compression zstd,1, default chunker params (buzhash, about 2 MiB chunks, fixed seed\n' +
  '  without encryption). restic picks a random chunker polynomial per repository, so its chunk boundaries,\n' +
  '  and with them its growth for the changed image, vary from run to run (more so for small images).',
  '[1] restic skips reading a file whose size/inode/ctime/mtime match its parent snapshot, so its "unchanged"\n' +
  '  backup reads no data. borg never keeps the newest file of a run in its files cache, so with a single file\n' +
  '  it re-reads and re-chunks the image every time. The forced re-read row (restic --force,\n' +
  '  borg --files-cache=disabled) reads the whole image; its speed-up is against guestvault\'s unchanged backup.',
  '[2] restore: the newest snapshot (the changed image) to a file, checked with cmp; for zstd: zstd -d -T0\n' +
  '  of the first (unchanged) image (zstd decompression is single-threaded anyway).',
  '[4] growth: du -sb of the repository after the backup minus before it (after init, for the first backup),\n' +
  '  so fixed set-up costs such as a datastore\'s pre-created chunk directories are not counted; for zstd the .zst file.',
  'Calibration: "dd write" is the time to write image-size zeros to a new file (page cache, no fsync), a floor\n' +
  '  for any restore; on VMs whose fresh memory pages are expensive (ballooning) it is large and variable.',
  'The changed image is backed up under the same path (a hard link is switched), into the same group vm/100.',
  'Times are wall clock (process.hrtime) of one command; with --repeat N the median of N rounds.',
];

async function main() {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    console.error(`${e.message}\n\n${HELP}`);
    process.exit(2);
  }
  const { workdir, tools } = opts;
  const loadAtStart = loadavg();
  log(`guestvault benchmark: image ${mib(opts.size)} MiB, tools ${tools.join(', ')}, work dir ${workdir}`);

  // 1. tools
  const needs = [{ command: TIME, pkg: 'time' }, { command: 'cmp', pkg: 'diffutils' }, ...tools.flatMap((t) => COMMANDS[t])];
  const missing = ensureCommands(needs, log);
  if (missing.includes(TIME) || missing.includes('cmp')) {
    console.error(`cannot run without ${missing.join(', ')}`);
    process.exit(1);
  }
  const versions = {
    node: process.version,
    guestvault: tools.includes('guestvault') ? `${versionOf([process.execPath, join(PROJECT, 'bin', 'guestvault.js'), '--version']) ?? '?'} (${PROJECT})` : undefined,
    restic: tools.includes('restic') ? versionOf(['restic', 'version']) : undefined,
    borg: tools.includes('borg') ? versionOf(['borg', '--version']) : undefined,
    zstd: tools.includes('zstd') ? versionOf(['zstd', '--version']) : undefined,
  };
  for (const [k, v] of Object.entries(versions)) if (v) log(`  ${k}: ${v}`);

  // 2. images
  mkdirSync(join(workdir, 'tmp'), { recursive: true });
  log(`\n== images`);
  const image = prepareImages({ dir: join(workdir, 'image', `${opts.size / MiB}M`), size: opts.size, seed: opts.seed, regenerate: opts.regen, log: (m) => log(`  ${m}`) });
  const share = image.mix.share;
  log(`  ${image.mix.regions} regions: ${(share.zero * 100).toFixed(1)} % zeros, ${(share.text * 100).toFixed(1)} % text, ` +
    `${(share.random * 100).toFixed(1)} % random; changed copy: ${image.changedBlocks} x 4 MiB rewritten`);
  const calibration = calibrate(image, workdir);
  log(`  calibration: dd write of ${mib(image.size)} MiB: ${calibration.ddWriteSeconds.toFixed(2)} s; ` +
    `cat of the image from the page cache: ${calibration.catSeconds.toFixed(2)} s`);
  image.src = join(workdir, 'src', 'disk.img');
  mkdirSync(dirname(image.src), { recursive: true });

  // 3. tools, one after the other; with --repeat, round after round
  const rounds = Object.fromEntries(tools.map((t) => [t, []]));
  for (let round = 1; round <= opts.repeat; round++) {
    for (const name of tools) {
      log(`\n== ${name}${opts.repeat > 1 ? ` (round ${round} of ${opts.repeat})` : ''}`);
      const t = new ToolRun(name, opts, image);
      rounds[name].push(t);
      const absent = COMMANDS[name].filter((c) => !findCommand(c.command));
      try {
        if (absent.length) throw new StepFailed(`not installed: ${absent.map((c) => c.command).join(', ')}`);
        await BENCH[name](t, image, workdir);
      } catch (e) {
        t.status = 'failed';
        t.error = e instanceof StepFailed ? e.message : (e?.stack ?? String(e));
        log(`  [${name}] FAILED: ${t.error.split('\n').join('\n    ')}`);
      }
    }
  }
  rmSync(image.src, { force: true });
  const results = Object.fromEntries(tools.map((t) => [t, combine(rounds[t])]));

  // 4. report
  const ups = speedups(tools, results);
  const goals = targets(tools, results);
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  log(`\n== results (image ${mib(image.size)} MiB; ${cpus().length} CPUs, ${(totalmem() / GiB).toFixed(1)} GiB RAM; ` +
    `${opts.repeat > 1 ? `median of ${opts.repeat} rounds` : 'one round'}; load average now ${load})\n`);
  log(mainTable(tools, results));
  log(`\ncalibration: dd write of the image size ${calibration.ddWriteSeconds.toFixed(2)} s, ` +
    `cat of the image ${calibration.catSeconds.toFixed(2)} s`);
  if (tools.includes('guestvault') && tools.length > 1) log(`\n${speedupTable(tools, results, ups)}`);
  if (tools.includes('guestvault')) log(`\ntargets:\n${targetLines(goals)}`);
  const failed = tools.filter((t) => results[t].status === 'failed');
  if (failed.length) {
    log(`\nfailed:`);
    for (const t of failed) {
      const lines = results[t].error.trim().split('\n');
      const shown = lines.length > 12 ? [...lines.slice(0, 11), `[... ${lines.length - 11} more lines, see results.json]`] : lines;
      log(`  ${t}: ${shown.join('\n    ')}`);
    }
  }
  const interference = interferenceOf(rounds);
  if (interference.share > 0.05) {
    log(`\nWARNING: other processes (or the hypervisor) used ${interference.otherCpuSeconds.toFixed(1)} CPU-seconds during the ` +
      `${interference.wallSeconds.toFixed(1)} s of timed steps (${(interference.share * 100).toFixed(0)} % of the machine's capacity): ` +
      'the times are disturbed; rerun on an idle machine and/or with --repeat.');
  }
  log(`\nnotes:\n${NOTES.map((n) => `- ${n}`).join('\n')}`);

  const json = {
    date: new Date().toISOString(),
    interference,
    calibration,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), kernel: release(), loadAverage: { start: loadAtStart, end: loadavg() } },
    options: { ...opts, sizeGiB: opts.size / GiB },
    versions,
    image: { ...image, src: undefined },
    stepsOf: Object.fromEntries(tools.map((t) => [t, STEPS_OF[t]])),
    tools: results,
    speedups: ups,
    targets: goals,
    notes: NOTES,
  };
  const out = join(workdir, 'results.json');
  writeFileSync(out, JSON.stringify(json, null, 2) + '\n');
  log(`\nresults written to ${out}`);
}

main().catch((e) => {
  console.error(e?.stack ?? String(e));
  process.exit(1);
});
