import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliEnv } from '../helpers/cli.js';
import { MiB, writeImage } from '../helpers/data.js';
import { decodeFixedIndex } from '../../src/formats/index.js';

interface BackupResult { snapshot: string }
interface Snap { snapshot: string; verification: { state: string; upid: string; sample?: number } | null }
interface ChunkStats { referenced: number; read: number; reused: number; notSampled: number }
interface SnapResult {
  snapshot: string;
  state: 'ok' | 'failed' | 'skipped';
  reason?: string;
  problems: { archive: string; chunk?: string; message: string; renamedTo?: string }[];
  chunks?: ChunkStats;
  bytesRead?: number;
}
interface Report {
  upid: string;
  ok: boolean;
  snapshots: SnapResult[];
  summary: {
    snapshots: { total: number; verified: number; skipped: number; ok: number; failed: number };
    chunks: { distinct: number; checked: number; bad: number; notSampled: number };
    sample: number | null;
    bytesRead: number;
    seconds: number;
  };
}

/** verify --ignore-verified / --outdated-after / --sample, and reading each chunk once per run. */
describe('verify options', () => {
  const env = new CliEnv('gv-verify-');
  const store = join(env.dir, 'store');
  const BIG_CHUNKS = 44;
  const snaps: Record<string, string> = {};

  const backup = (ns: string, id: string, image: string) =>
    env.json<BackupResult>(['backup', '--store', 'main', '--ns', ns, '--backup-type', 'vm', '--backup-id', id, `disk.img:${image}`]).snapshot;
  const verify = (...args: string[]) => env.run(['verify', '--store', 'main', ...args]);
  const verifyJson = (...args: string[]) => {
    const r = verify(...args, '--output-format', 'json');
    return { code: r.code, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
  };
  const verification = (ns: string, snapshot: string) =>
    env.json<Snap[]>(['snapshots', '--store', 'main', '--ns', ns]).find((s) => s.snapshot === snapshot)!.verification;
  /** Flip the last byte of the chunk at `entry` of the snapshot's disk.img.fidx; returns the chunk path. */
  const corrupt = (ns: string, snapshot: string, entry: number) => {
    const idx = decodeFixedIndex(readFileSync(join(store, 'ns', ns, snapshot, 'disk.img.fidx')), 'idx');
    const digest = idx.digests[entry]!.toString('hex');
    const chunk = join(store, '.chunks', digest.slice(0, 4), digest);
    const bytes = readFileSync(chunk);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(chunk, bytes);
    return { digest, chunk };
  };

  beforeAll(() => {
    expect(env.run(['datastore', 'create', 'main', store]).code).toBe(0);
    // Random regions get different seeds, so every 4 MiB chunk of these images is distinct.
    const small = (name: string, seed: number) => writeImage(join(env.dir, name), 12 * MiB, [['r', 4]], seed);
    snaps.ok = backup('ign', '1', small('a.img', 11));
    snaps.bad = backup('ign', '2', small('b.img', 21));
    snaps.corrupt = backup('bad', '20', small('c.img', 31));
    snaps.big = backup('sample', '10', writeImage(join(env.dir, 'big.img'), BIG_CHUNKS * 4 * MiB, [['r', 4]], 1000));
    // 7 chunks, 4 distinct: random, text (3 times), zero (twice), another random.
    const shared = writeImage(join(env.dir, 'shared.img'), 28 * MiB, [['r', 4], ['t', 4], ['z', 4], ['t', 4], ['z', 4], ['r', 4], ['t', 4]], 2000);
    snaps.shared1 = backup('shared', '30', shared);
    snaps.shared2 = backup('shared', '31', shared);
  });
  afterAll(() => env.cleanup());

  it('--ignore-verified skips an ok snapshot but verifies a failed one again; skips do not change the exit code', () => {
    expect(verify('--ns', 'ign').code).toBe(0);
    const firstUpid = verification('ign', snaps.ok!)!.upid;
    corrupt('ign', snaps.bad!, 1);
    expect(verify('--ns', 'ign', 'vm/2').code).toBe(1);
    expect(verification('ign', snaps.bad!)!.state).toBe('failed');

    const both = verifyJson('--ns', 'ign', '--ignore-verified');
    expect(both.code).toBe(1);
    const ok = both.report.snapshots.find((s) => s.snapshot === snaps.ok)!;
    expect(ok).toMatchObject({ state: 'skipped', reason: 'verified ok 0 days ago' });
    expect(ok.chunks).toBeUndefined();
    const bad = both.report.snapshots.find((s) => s.snapshot === snaps.bad)!;
    expect(bad.state).toBe('failed');
    expect(bad.chunks!.referenced).toBe(3);
    expect(both.report.summary.snapshots).toMatchObject({ total: 2, verified: 1, skipped: 1, failed: 1 });
    expect(both.report.summary.chunks.checked).toBe(3);

    // Only the skipped one: exit 0, the text report says why, and its manifest keeps the old verification.
    const skipOnly = verify('--ns', 'ign', 'vm/1', '--ignore-verified');
    expect(skipOnly.code, skipOnly.stderr).toBe(0);
    expect(skipOnly.stdout).toContain(`${snaps.ok}: skipped (verified ok 0 days ago)`);
    expect(skipOnly.stdout).toMatch(/snapshots: 0 verified, 1 skipped, 0 failed/);
    expect(verification('ign', snaps.ok!)!.upid).toBe(firstUpid);
    // Not older than a day: still skipped.
    expect(verifyJson('--ns', 'ign', 'vm/1', '--ignore-verified', '--outdated-after', '1').report.snapshots[0]!.state).toBe('skipped');
  });

  it('--outdated-after 0 verifies again (also without --ignore-verified); a failed snapshot is never skipped', () => {
    for (const args of [['--outdated-after', '0'], ['--ignore-verified', '--outdated-after', '0']]) {
      const before = verification('ign', snaps.ok!)!.upid;
      const r = verifyJson('--ns', 'ign', 'vm/1', ...args);
      expect(r.code).toBe(0);
      expect(r.report.snapshots[0]).toMatchObject({ state: 'ok', chunks: { referenced: 3, read: 3 } });
      const after = verification('ign', snaps.ok!)!;
      expect(after).toMatchObject({ state: 'ok', upid: r.report.upid });
      expect(after.upid).not.toBe(before);
    }
    const failed = verifyJson('--ns', 'ign', 'vm/2', '--outdated-after', '1000');
    expect(failed.code).toBe(1);
    expect(failed.report.snapshots[0]!.state).toBe('failed');
  });

  it('--sample 100 checks every chunk and records the sample in verify_state', () => {
    const r = env.json<Report>(['verify', '--store', 'main', '--ns', 'sample', '--sample', '100']);
    expect(r.summary.chunks).toEqual({ distinct: BIG_CHUNKS, checked: BIG_CHUNKS, bad: 0, notSampled: 0 });
    expect(r.summary.sample).toBe(100);
    expect(r.summary.bytesRead).toBeGreaterThan(BIG_CHUNKS * 4 * MiB);
    expect(verification('sample', snaps.big!)).toMatchObject({ state: 'ok', upid: r.upid, sample: 100 });
  });

  it('--sample with a small percentage checks some chunks but not all; a partial verification is not skipped later', () => {
    // P(no chunk of 44 at 30%) = 0.7^44 ≈ 1.5e-7.
    const r = env.json<Report>(['verify', '--store', 'main', '--ns', 'sample', '--sample', '30']);
    const c = r.summary.chunks;
    expect(c.distinct).toBe(BIG_CHUNKS);
    expect(c.checked).toBeGreaterThan(0);
    expect(c.checked).toBeLessThan(BIG_CHUNKS);
    expect(c.checked + c.notSampled).toBe(BIG_CHUNKS);
    expect(r.snapshots[0]).toMatchObject({ state: 'ok', chunks: { referenced: BIG_CHUNKS, read: c.checked, notSampled: c.notSampled } });
    expect(r.summary.bytesRead).toBeLessThan(BIG_CHUNKS * 4 * MiB);
    expect(verification('sample', snaps.big!)).toMatchObject({ state: 'ok', upid: r.upid, sample: 30 });

    const text = verify('--ns', 'sample', '--ignore-verified', '--sample', '12.5');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`${snaps.big}: ok`);
    const m = /chunks: checked (\d+) of (\d+) \(sample 12\.5%\), 0 bad/.exec(text.stdout);
    expect(m, text.stdout).not.toBeNull();
    expect(Number(m![2])).toBe(BIG_CHUNKS);
    expect(Number(m![1])).toBeLessThan(BIG_CHUNKS);
  });

  it('finds and renames a corrupt chunk with --sample 100', () => {
    const { digest, chunk } = corrupt('bad', snaps.corrupt!, 2);
    const r = verifyJson('--ns', 'bad', '--sample', '100');
    expect(r.code).toBe(1);
    expect(r.report.ok).toBe(false);
    const s = r.report.snapshots[0]!;
    expect(s.state).toBe('failed');
    expect(s.problems).toHaveLength(1);
    expect(s.problems[0]).toMatchObject({ archive: 'disk.img.fidx', chunk: digest, renamedTo: `${chunk}.0.bad` });
    expect(s.problems[0]!.message).toContain('CRC-32 mismatch');
    expect(r.report.summary.chunks).toMatchObject({ distinct: 3, checked: 3, bad: 1 });
    expect(existsSync(chunk)).toBe(false);
    expect(existsSync(`${chunk}.0.bad`)).toBe(true);
    expect(verification('bad', snaps.corrupt!)).toMatchObject({ state: 'failed', sample: 100 });
  });

  it('reads a chunk once per run, however many snapshots and index entries share it', () => {
    const r = env.json<Report>(['verify', '--store', 'main', '--ns', 'shared']);
    expect(r.summary.chunks).toEqual({ distinct: 4, checked: 4, bad: 0, notSampled: 0 });
    const [first, second] = [snaps.shared1, snaps.shared2].map((name) => r.snapshots.find((s) => s.snapshot === name)!);
    expect(first!.chunks).toEqual({ referenced: 4, read: 4, reused: 0, notSampled: 0 });
    expect(second!.chunks).toEqual({ referenced: 4, read: 0, reused: 4, notSampled: 0 });
    // The second snapshot read only its index.
    expect(second!.bytesRead).toBe(statSync(join(store, 'ns/shared', snaps.shared2!, 'disk.img.fidx')).size);
  });

  it('rejects invalid --sample and --outdated-after values with a usage error (exit 2)', () => {
    for (const value of ['0', '101', '100.5', 'abc', '-5', '', '1e']) {
      const r = verify('--ns', 'ign', `--sample=${value}`);
      expect(r.code, `--sample=${value}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/E_USAGE|invalid/);
    }
    for (const value of ['-1', 'soon']) {
      expect(verify('--ns', 'ign', `--outdated-after=${value}`).code).toBe(2);
    }
    // The verify_state of the snapshots was not touched by the rejected runs.
    expect(verification('ign', snaps.bad!)!.state).toBe('failed');
  });
});
