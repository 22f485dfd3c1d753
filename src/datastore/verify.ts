import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import {
  checkBlobCrc, decodeBlob, decodeDynamicIndex, decodeFixedIndex, fixedChunkRange, dynamicChunkStart,
  type ManifestFile,
} from '../formats/index.js';
import { Progress, silentSink, type ProgressSink } from '../tasks/index.js';
import { runBounded } from './backup-session.js';
import type { ChunkPool } from './chunk-pool.js';
import { markChunkBad } from './chunk-store.js';
import type { Datastore } from './datastore.js';
import { formatSnapshot, type SnapshotRef } from './names.js';

export interface VerifyProblem {
  snapshot: string;
  archive: string;
  chunk?: string;
  message: string;
  /** Where a corrupt chunk was moved to (`<digest>.<n>.bad`). */
  renamedTo?: string;
}

export interface SnapshotVerifyResult {
  snapshot: string;
  state: 'ok' | 'failed';
  problems: VerifyProblem[];
}

export interface VerifyOptions {
  pool: ChunkPool;
  upid: string;
  progress?: ProgressSink;
  log?: (line: string) => void;
}

/**
 * Verify snapshots as PBS does: every blob against the manifest, every index against the
 * manifest, and every chunk (once per run) for CRC, and — when not encrypted — SHA-256 and size.
 * Corrupt chunks are renamed to `.bad`; the result is recorded in each manifest's verify_state.
 */
export async function verifySnapshots(store: Datastore, refs: readonly SnapshotRef[], opts: VerifyOptions): Promise<SnapshotVerifyResult[]> {
  const good = new Set<string>();
  const bad = new Map<string, string>();
  const results: SnapshotVerifyResult[] = [];
  for (const ref of refs) {
    const name = formatSnapshot(ref);
    const problems: VerifyProblem[] = [];
    opts.log?.(`verify ${name}`);
    let manifest;
    try {
      manifest = store.loadManifest(ref);
    } catch (err) {
      problems.push({ snapshot: name, archive: 'index.json.blob', message: (err as Error).message });
      results.push({ snapshot: name, state: 'failed', problems });
      continue;
    }
    for (const f of manifest.files) {
      const before = problems.length;
      await verifyFile(store, ref, f, { ...opts, good, bad, problems });
      opts.log?.(`  ${f.filename}: ${problems.length === before ? 'ok' : `${problems.length - before} problem(s)`}`);
    }
    const state = problems.length === 0 ? 'ok' : 'failed';
    try {
      // Re-read so notes or protection changed meanwhile are kept.
      const current = store.loadManifest(ref);
      store.writeManifest(ref, { ...current, unprotected: { ...current.unprotected, verify_state: { state, upid: opts.upid } } });
    } catch (err) {
      problems.push({ snapshot: name, archive: 'index.json.blob', message: `cannot record the verify state: ${(err as Error).message}` });
    }
    results.push({ snapshot: name, state: problems.length === 0 ? 'ok' : 'failed', problems });
  }
  return results;
}

interface FileContext extends VerifyOptions {
  good: Set<string>;
  bad: Map<string, string>;
  problems: VerifyProblem[];
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
  const progress = new Progress(`verify ${f.filename}`, chunks.reduce((a, c) => a + c.size, 0), ctx.progress ?? silentSink);
  await runBounded(ctx.pool, chunks.length, async (i) => {
    const c = chunks[i]!;
    const known = ctx.bad.get(c.digest);
    if (known !== undefined) {
      problem(`chunk ${c.digest} is corrupt (${known})`, c.digest);
      ctx.pool.cancelSlot();
      return;
    }
    if (ctx.good.has(c.digest)) {
      ctx.pool.cancelSlot();
      progress.add(c.size);
      return;
    }
    const r = await ctx.pool.run({ op: 'verify', store: store.path, digest: c.digest, size: c.size, encrypted });
    progress.add(c.size);
    if (r.ok) {
      ctx.good.add(c.digest);
      return;
    }
    // A chunk may be referenced twice in one index: only the first sight reports and renames it.
    if (ctx.bad.has(c.digest)) {
      problem(`chunk ${c.digest} is corrupt (${ctx.bad.get(c.digest)})`, c.digest);
      return;
    }
    ctx.bad.set(c.digest, r.error ?? 'unknown error');
    const renamed = r.missing ? undefined : markChunkBad(store.path, c.digest);
    problem(r.error ?? 'corrupt chunk', c.digest, renamed);
    ctx.log?.(`  ${f.filename}: ${r.error}${renamed ? ` (renamed to ${renamed})` : ''}`);
  });
  progress.finish();
}
