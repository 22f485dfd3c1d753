import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import {
  checkBlobCrc, decodeBlob, decodeDynamicIndex, decodeFixedIndex, fixedChunkRange, dynamicChunkStart,
  type Manifest, type ManifestFile,
} from '../formats/index.js';
import { GuestvaultError } from '../errors.js';
import { Progress, parseUpid, silentSink, type ProgressSink } from '../tasks/index.js';
import { runBounded } from './backup-session.js';
import type { ChunkPool } from './chunk-pool.js';
import { chunkPath, markChunkBad } from './chunk-store.js';
import type { Datastore } from './datastore.js';
import { updateManifest } from './snapshot-admin.js';
import { formatSnapshot, type SnapshotRef } from './names.js';

export interface VerifyProblem {
  snapshot: string;
  archive: string;
  chunk?: string;
  message: string;
  /** Where a corrupt chunk was moved to (`<digest>.<n>.bad`). */
  renamedTo?: string;
}

/** Chunk counts of one snapshot; every distinct digest of the snapshot is in exactly one class. */
export interface SnapshotChunkStats {
  /** Distinct chunks the snapshot's indexes reference. */
  referenced: number;
  /** Read and checked for this snapshot. */
  read: number;
  /** Already checked (or being checked) for an earlier snapshot of this run: not read again. */
  reused: number;
  /** Left out by `--sample`. */
  notSampled: number;
}

/** The verify_state of a manifest as read before this run. */
export interface LastVerification {
  state: string;
  upid: string;
  /** Whole days since the verification started; undefined when its UPID cannot be parsed. */
  ageDays?: number;
  sample?: number;
}

export interface SnapshotVerifyResult {
  snapshot: string;
  state: 'ok' | 'failed' | 'skipped';
  problems: VerifyProblem[];
  /** Why a snapshot was skipped (`--ignore-verified`). */
  reason?: string;
  /** The verification found in the manifest before this run, if any. */
  lastVerification?: LastVerification;
  /** Undefined for skipped snapshots. */
  chunks?: SnapshotChunkStats;
  /** Bytes of blobs, indexes and chunks read for this snapshot. */
  bytesRead?: number;
  seconds?: number;
}

export interface VerifySummary {
  upid: string;
  snapshots: { total: number; verified: number; skipped: number; ok: number; failed: number };
  chunks: {
    /** Distinct chunks referenced by the verified (not skipped) snapshots of this run. */
    distinct: number;
    /** Chunks read and checked (each distinct chunk at most once per run). */
    checked: number;
    /** Checked chunks that are corrupt or missing. */
    bad: number;
    /** Distinct chunks left out by `--sample`. */
    notSampled: number;
  };
  /** The `--sample` percentage, or null for a full verification. */
  sample: number | null;
  /** Bytes of blobs, indexes and chunk files read. */
  bytesRead: number;
  seconds: number;
}

export interface VerifyReport {
  snapshots: SnapshotVerifyResult[];
  summary: VerifySummary;
}

export interface VerifyOptions {
  pool: ChunkPool;
  upid: string;
  progress?: ProgressSink;
  log?: (line: string) => void;
  /** Skip snapshots whose last full verification is ok (failed ones are always verified). */
  ignoreVerified?: boolean;
  /**
   * Verify an ok snapshot again when its last verification started at least this many days ago
   * (a UPID that cannot be parsed counts as outdated). Implies `ignoreVerified`.
   */
  outdatedAfterDays?: number;
  /** Check only this percentage (0 < P <= 100) of the run's distinct chunks, chosen at random per chunk. */
  samplePercent?: number;
  /** Called after each snapshot is verified or skipped. */
  onSnapshot?: (r: SnapshotVerifyResult) => void;
  /** Current time in epoch seconds (default: the clock). */
  now?: () => number;
  /** Uniform random numbers in [0, 1) for sampling (default: Math.random). */
  random?: () => number;
}

/** Check the numbers given for `--sample` and `--outdated-after`; a usage error otherwise. */
export function checkVerifyOptions(o: { samplePercent?: number; outdatedAfterDays?: number }): void {
  if (o.samplePercent !== undefined && !(Number.isFinite(o.samplePercent) && o.samplePercent > 0 && o.samplePercent <= 100)) {
    throw new GuestvaultError('E_USAGE', `invalid sample percentage ${o.samplePercent}: use a number greater than 0 and at most 100`);
  }
  if (o.outdatedAfterDays !== undefined && !(Number.isFinite(o.outdatedAfterDays) && o.outdatedAfterDays >= 0)) {
    throw new GuestvaultError('E_USAGE', `invalid number of days ${o.outdatedAfterDays}: use a number of at least 0`);
  }
}

const DAY = 86400;

function lastVerification(m: Manifest, now: number): LastVerification | undefined {
  const vs = m.unprotected.verify_state;
  if (typeof vs !== 'object' || vs === null) return undefined;
  const { state, upid, sample } = vs as Record<string, unknown>;
  const upidText = typeof upid === 'string' ? upid : '';
  const start = parseUpid(upidText)?.startTime;
  return {
    state: typeof state === 'string' ? state : 'unknown',
    upid: upidText,
    ...(start !== undefined ? { ageDays: Math.floor(Math.max(0, now - start) / DAY) } : {}),
    ...(typeof sample === 'number' ? { sample } : {}),
  };
}

/**
 * Why the snapshot need not be verified (PBS `verify_filter`, except that a failed verification
 * is always repeated and a sampled one does not count as a full one), or undefined to verify it.
 */
function skipReason(m: Manifest, opts: VerifyOptions, now: number): string | undefined {
  if (!opts.ignoreVerified && opts.outdatedAfterDays === undefined) return undefined;
  const vs = m.unprotected.verify_state as Record<string, unknown> | undefined;
  if (typeof vs !== 'object' || vs === null || vs.state !== 'ok') return undefined;
  if (typeof vs.sample === 'number' && vs.sample < 100) return undefined;
  const start = typeof vs.upid === 'string' ? parseUpid(vs.upid)?.startTime : undefined;
  const age = start === undefined ? undefined : Math.max(0, now - start);
  if (opts.outdatedAfterDays !== undefined && (age === undefined || age >= opts.outdatedAfterDays * DAY)) return undefined;
  return age === undefined ? 'verified ok, time unknown' : `verified ok ${Math.floor(age / DAY)} days ago`;
}

interface ChunkOutcome {
  ok: boolean;
  error?: string;
  renamedTo?: string;
}

/** One read of a digest in this run; later references wait for the same promise. */
interface ChunkCheck {
  /** Index of the snapshot (in this run) whose reference started the read. */
  owner: number;
  result: Promise<ChunkOutcome>;
}

interface RunState {
  checks: Map<string, ChunkCheck>;
  /** Per-run sampling decision of each distinct digest. */
  sampled: Map<string, boolean>;
  bad: Set<string>;
  /** Chunk reads started (one per distinct sampled digest when nothing is read twice). */
  reads: number;
  bytesRead: number;
}

/**
 * Verify snapshots as PBS does: every blob against the manifest, every index against the
 * manifest, and every chunk (at most once per run) for CRC, and — when not encrypted — SHA-256
 * and size. Corrupt chunks are renamed to `.bad`; the result is recorded in each manifest's
 * verify_state. Optionally skips snapshots verified before and checks only a random sample of
 * the chunks.
 */
export async function runVerify(store: Datastore, refs: readonly SnapshotRef[], opts: VerifyOptions): Promise<VerifyReport> {
  checkVerifyOptions(opts);
  const started = Date.now();
  const now = opts.now ?? (() => Date.now() / 1000);
  const random = opts.random ?? Math.random;
  const sample = opts.samplePercent;
  const run: RunState = { checks: new Map(), sampled: new Map(), bad: new Set(), reads: 0, bytesRead: 0 };
  const isSampled = (digest: string): boolean => {
    if (sample === undefined) return true;
    let s = run.sampled.get(digest);
    if (s === undefined) {
      s = random() * 100 < sample;
      run.sampled.set(digest, s);
    }
    return s;
  };
  const distinct = new Set<string>();
  const results: SnapshotVerifyResult[] = [];
  const done = (r: SnapshotVerifyResult) => {
    results.push(r);
    opts.onSnapshot?.(r);
  };

  for (const [index, ref] of refs.entries()) {
    const name = formatSnapshot(ref);
    const snapStarted = Date.now();
    const problems: VerifyProblem[] = [];
    let manifest: Manifest;
    try {
      manifest = store.loadManifest(ref);
    } catch (err) {
      opts.log?.(`verify ${name}`);
      problems.push({ snapshot: name, archive: 'index.json.blob', message: (err as Error).message });
      done({ snapshot: name, state: 'failed', problems, chunks: { referenced: 0, read: 0, reused: 0, notSampled: 0 }, bytesRead: 0, seconds: 0 });
      continue;
    }
    const last = lastVerification(manifest, now());
    const reason = skipReason(manifest, opts, now());
    if (reason !== undefined) {
      opts.log?.(`skip ${name}: ${reason}`);
      done({ snapshot: name, state: 'skipped', problems, reason, ...(last ? { lastVerification: last } : {}) });
      continue;
    }
    opts.log?.(`verify ${name}`);
    const bytesBefore = run.bytesRead;
    const seen = new Set<string>();
    const read = { count: 0 };
    const notSampled = new Set<string>();
    for (const f of manifest.files) {
      const before = problems.length;
      await verifyFile(store, ref, f, { ...opts, run, index, isSampled, problems, seen, read, notSampled });
      opts.log?.(`  ${f.filename}: ${problems.length === before ? 'ok' : `${problems.length - before} problem(s)`}`);
    }
    for (const d of seen) distinct.add(d);
    const state = problems.length === 0 ? 'ok' : 'failed';
    try {
      // Under the manifest lock, on a fresh read, so notes set meanwhile are kept.
      const verifyState = { state, upid: opts.upid, ...(sample !== undefined ? { sample } : {}) };
      await updateManifest(store, ref, (current) => ({ ...current, unprotected: { ...current.unprotected, verify_state: verifyState } }));
    } catch (err) {
      problems.push({ snapshot: name, archive: 'index.json.blob', message: `cannot record the verify state: ${(err as Error).message}` });
    }
    done({
      snapshot: name,
      state: problems.length === 0 ? 'ok' : 'failed',
      problems,
      ...(last ? { lastVerification: last } : {}),
      chunks: { referenced: seen.size, read: read.count, reused: seen.size - read.count - notSampled.size, notSampled: notSampled.size },
      bytesRead: run.bytesRead - bytesBefore,
      seconds: (Date.now() - snapStarted) / 1000,
    });
  }

  const count = (s: SnapshotVerifyResult['state']) => results.filter((r) => r.state === s).length;
  const notSampledTotal = [...distinct].filter((d) => run.sampled.get(d) === false).length;
  return {
    snapshots: results,
    summary: {
      upid: opts.upid,
      snapshots: { total: results.length, verified: results.length - count('skipped'), skipped: count('skipped'), ok: count('ok'), failed: count('failed') },
      chunks: { distinct: distinct.size, checked: run.reads, bad: run.bad.size, notSampled: notSampledTotal },
      sample: sample ?? null,
      bytesRead: run.bytesRead,
      seconds: (Date.now() - started) / 1000,
    },
  };
}

/** `runVerify` returning only the per-snapshot results. */
export async function verifySnapshots(store: Datastore, refs: readonly SnapshotRef[], opts: VerifyOptions): Promise<SnapshotVerifyResult[]> {
  return (await runVerify(store, refs, opts)).snapshots;
}

interface FileContext extends VerifyOptions {
  run: RunState;
  /** This snapshot's position in the run. */
  index: number;
  isSampled: (digest: string) => boolean;
  problems: VerifyProblem[];
  /** Distinct digests of this snapshot, the number of chunk reads it started, and the digests left out by sampling. */
  seen: Set<string>;
  read: { count: number };
  notSampled: Set<string>;
}

async function verifyFile(store: Datastore, ref: SnapshotRef, f: ManifestFile, ctx: FileContext): Promise<void> {
  const snapshot = formatSnapshot(ref);
  const what = `${snapshot}/${f.filename}`;
  const problem = (message: string, chunk?: string, renamedTo?: string) =>
    ctx.problems.push({ snapshot, archive: f.filename, message, ...(chunk ? { chunk } : {}), ...(renamedTo ? { renamedTo } : {}) });
  let raw: Buffer;
  try {
    raw = readFileSync(join(store.snapshotDir(ref), f.filename));
  } catch (err) {
    problem(`cannot read ${what}: ${(err as Error).message}`);
    return;
  }
  ctx.run.bytesRead += raw.length;
  const encrypted = f['crypt-mode'] === 'encrypt';
  if (f.filename.endsWith('.blob')) {
    if (raw.length !== f.size || createHash('sha256').update(raw).digest('hex') !== f.csum) {
      problem(`${what}: size or checksum differs from the manifest`);
      return;
    }
    try {
      if (encrypted) checkBlobCrc(raw, what);
      else decodeBlob(raw, what);
    } catch (err) {
      problem((err as Error).message);
    }
    return;
  }
  let chunks: { digest: string; size: number }[];
  try {
    if (f.filename.endsWith('.fidx')) {
      const idx = decodeFixedIndex(raw, what);
      if (idx.csum.toString('hex') !== f.csum || idx.size !== f.size) throw new Error(`${what}: index checksum or size differs from the manifest`);
      chunks = idx.digests.map((d, i) => {
        const [s, e] = fixedChunkRange(idx, i);
        return { digest: d.toString('hex'), size: e - s };
      });
    } else if (f.filename.endsWith('.didx')) {
      const idx = decodeDynamicIndex(raw, what);
      if (idx.csum.toString('hex') !== f.csum || idx.size !== f.size) throw new Error(`${what}: index checksum or size differs from the manifest`);
      chunks = idx.entries.map((e, i) => ({ digest: e.digest.toString('hex'), size: e.end - dynamicChunkStart(idx.entries, i) }));
    } else {
      problem(`${what}: unknown archive type`);
      return;
    }
  } catch (err) {
    problem((err as Error).message);
    return;
  }
  // A chunk referenced several times in one archive is reported once for it.
  const reported = new Set<string>();
  const progress = new Progress(`verify ${f.filename}`, chunks.reduce((a, c) => a + c.size, 0), ctx.progress ?? silentSink);
  await runBounded(ctx.pool, chunks.length, async (i) => {
    const c = chunks[i]!;
    ctx.seen.add(c.digest);
    if (!ctx.isSampled(c.digest)) {
      ctx.pool.cancelSlot();
      ctx.notSampled.add(c.digest);
      progress.add(c.size);
      return;
    }
    let check = ctx.run.checks.get(c.digest);
    if (check) {
      // Checked before in this run, or being checked right now: wait for that one read.
      ctx.pool.cancelSlot();
    } else {
      check = { owner: ctx.index, result: checkChunk(store, c.digest, c.size, encrypted, ctx) };
      ctx.run.checks.set(c.digest, check);
    }
    const out = await check.result;
    progress.add(c.size);
    if (out.ok || reported.has(c.digest)) return;
    reported.add(c.digest);
    if (check.owner === ctx.index) problem(out.error ?? 'corrupt chunk', c.digest, out.renamedTo);
    else problem(`chunk ${c.digest} is corrupt (${out.error ?? 'unknown error'})`, c.digest);
  });
  progress.finish();

  /** Read one chunk in the pool (the caller holds a slot); rename it when corrupt. */
  async function checkChunk(st: Datastore, digest: string, size: number, enc: boolean, cx: FileContext): Promise<ChunkOutcome> {
    cx.run.reads++;
    cx.read.count++;
    const r = await cx.pool.run({ op: 'verify', store: st.path, digest, size, encrypted: enc });
    if (r.ok) {
      cx.run.bytesRead += r.encodedSize ?? 0;
      return { ok: true };
    }
    cx.run.bad.add(digest);
    const error = r.error ?? 'unknown error';
    let renamedTo: string | undefined;
    if (!r.missing) {
      try {
        cx.run.bytesRead += statSync(chunkPath(st.path, digest)).size;
      } catch {
        // Gone meanwhile: nothing to count or rename.
      }
      renamedTo = markChunkBad(st.path, digest);
    }
    cx.log?.(`  ${f.filename}: ${error}${renamedTo ? ` (renamed to ${renamedTo})` : ''}`);
    return { ok: false, error, ...(renamedTo ? { renamedTo } : {}) };
  }
}
