/** Interoperability with the system's GNU tar, in both directions. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractTar, tarDirectory, type CatalogEntry } from '../../src/tree/index.js';
import { buildFixture, chunked, collect, DEEP_FILE, diffSnapshots, LONG_NAME, snapshot, tempDir, type Snapshot } from './fixture.js';

const SPARSE = 4 * 1024 * 1024;
const XATTR_FLAGS = ['--xattrs', '--xattrs-include=*'];

describe('GNU tar interoperability', () => {
  let src: string;
  let work: string;
  let ours: string;
  let before: Map<string, Snapshot>;
  const entries: CatalogEntry[] = [];

  beforeAll(async () => {
    src = buildFixture(SPARSE);
    work = tempDir('gnu');
    ours = join(work, 'ours.tar');
    writeFileSync(ours, await collect(tarDirectory(src, { onEntry: (e) => entries.push(e) })));
    before = snapshot(src);
  });
  afterAll(() => {
    rmSync(src, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('lists our stream with tar -tvf', () => {
    const r = spawnSync('tar', ['-tvf', ours], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(entries.length + 1); // plus the root "./"
    expect(lines[0]).toMatch(/ \.\/$/);
    expect(r.stdout).toContain(LONG_NAME);
    expect(r.stdout).toContain(DEEP_FILE);
    expect(r.stdout).toMatch(/ sparse\.img\n/);
    expect(r.stdout).not.toContain('GNUSparseFile');
    expect(r.stdout).toMatch(/hl2\.txt link to a\/hl1\.txt/);
  });

  it('extracts our stream with tar -xf to an identical tree', () => {
    const dst = join(work, 'gnu-extracted');
    execFileSync('mkdir', ['-p', dst]);
    const r = spawnSync('tar', ['-xf', ours, '-C', dst, '-p', '--same-owner', '--numeric-owner', ...XATTR_FLAGS], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(diffSnapshots(before, snapshot(dst))).toEqual([]);
    expect(readFileSync(join(dst, 'big.bin')).equals(readFileSync(join(src, 'big.bin')))).toBe(true);
  });

  // GNU tar's pax output as input: "./" prefixes, atime/ctime records, its own sparse encodings.
  for (const sparseVersion of ['0.0', '0.1', '1.0']) {
    it(`extracts a GNU tar --format=posix archive (sparse ${sparseVersion})`, async () => {
      const archive = join(work, `gnu-${sparseVersion}.tar`);
      execFileSync('tar', ['-cf', archive, '--format=posix', '--sparse', `--sparse-version=${sparseVersion}`, ...XATTR_FLAGS, '-C', src, '.']);
      const dst = tempDir('from-gnu');
      try {
        const warnings: string[] = [];
        await extractTar(chunked(readFileSync(archive)), dst, { onWarning: (m) => warnings.push(m) });
        expect(warnings).toEqual([]);
        expect(diffSnapshots(before, snapshot(dst))).toEqual([]);
      } finally {
        rmSync(dst, { recursive: true, force: true });
      }
    });
  }

  it('extracts a GNU-format archive (long names as L/K entries)', async () => {
    const archive = join(work, 'gnu-format.tar');
    execFileSync('tar', ['-cf', archive, '--format=gnu', '-C', src, '.']);
    const dst = tempDir('from-gnu-format');
    try {
      await extractTar(chunked(readFileSync(archive)), dst);
      // The GNU format has no xattrs or sub-second times; compare the rest.
      const strip = (m: Map<string, Snapshot>): Map<string, Snapshot> =>
        new Map([...m].map(([p, s]) => [p, { ...s, xattrs: {}, mtimeNs: (s.mtimeNs / 1_000_000_000n) * 1_000_000_000n }]));
      expect(diffSnapshots(strip(before), strip(snapshot(dst)))).toEqual([]);
    } finally {
      rmSync(dst, { recursive: true, force: true });
    }
  });
});
