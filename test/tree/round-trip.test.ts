import { lstatSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractTar, tarDirectory, type CatalogEntry } from '../../src/tree/index.js';
import { decodeUstar } from '../../src/tree/ustar-header.js';
import {
  BINARY_XATTR,
  buildFixture,
  chunked,
  collect,
  DEEP_FILE,
  diffSnapshots,
  isRoot,
  LONG_NAME,
  snapshot,
  SPARSE_SIZE,
  type Snapshot,
  tempDir,
} from './fixture.js';

describe('tarDirectory → extractTar round trip', () => {
  let src: string;
  let dst: string;
  let tar: Buffer;
  const entries: CatalogEntry[] = [];
  const warnings: string[] = [];
  const cleanup: string[] = [];
  let before: Map<string, Snapshot>;

  beforeAll(async () => {
    src = buildFixture();
    cleanup.push(src);
    tar = await collect(tarDirectory(src, { onEntry: (e) => entries.push(e), onWarning: (m) => warnings.push(m) }));
    before = snapshot(src);
    dst = tempDir('dst');
    cleanup.push(dst);
  });
  afterAll(() => {
    for (const d of cleanup) rmSync(d, { recursive: true, force: true });
  });

  it('restores content, types, modes, owners, times, xattrs and link structure', async () => {
    const restoreWarnings: string[] = [];
    const res = await extractTar(chunked(tar), dst, { onWarning: (m) => restoreWarnings.push(m) });
    expect(warnings).toEqual([]);
    expect(restoreWarnings).toEqual([]);
    expect(res.entries).toBe(entries.length + 1); // the catalog entries plus the root "./"
    const after = snapshot(dst);
    expect(diffSnapshots(before, after)).toEqual([]);
    // Spot checks that the fixture really has what the diff is meant to cover.
    expect(after.get('hl2.txt')?.inodeGroup).toBe('a/hl1.txt');
    expect(after.get('sticky')?.mode).toBe(0o1777);
    expect(after.get('setuid-bin')?.mode).toBe(0o4755);
    expect(after.get('dangling')?.target).toBe('does/not/exist');
    expect(after.get(DEEP_FILE)?.type).toBe('file');
    expect(after.get('small.txt')?.xattrs?.['user.binary']).toBe(BINARY_XATTR.toString('hex'));
    expect(after.get('a')?.xattrs?.['user.on-dir']).toBe('090807');
    if (isRoot) {
      expect(after.get('owned.txt')).toMatchObject({ uid: 1234, gid: 5678 });
      expect(after.get('huge-uid.txt')).toMatchObject({ uid: 3_000_000, gid: 2_500_000 });
      expect(after.get('null-dev')?.type).toBe('chardev');
      expect(lstatSync(join(dst, 'null-dev')).rdev).toBe(lstatSync(join(src, 'null-dev')).rdev);
    }
    // Sub-second times survive (to the microsecond, through Node's double-based utimes).
    expect(Number(after.get('small.txt')?.mtimeNs) / 1e9).toBeCloseTo(1_600_000_000.123456, 5);
    expect(Number(after.get('a/b')?.mtimeNs) / 1e9).toBeCloseTo(1_300_000_000.75, 5);
    expect(Number(after.get('link-rel')?.mtimeNs) / 1e9).toBeCloseTo(1_400_000_000.25, 5);

    // The sparse file: small in the stream, small on disk after restore, same content.
    expect(tar.length).toBeLessThan(8 * 1024 * 1024);
    const st = lstatSync(join(dst, 'sparse.img'));
    expect(st.size).toBe(SPARSE_SIZE);
    expect(st.blocks * 512).toBeLessThan(1024 * 1024);
    expect(after.get('sparse.img')?.sha).toBe(before.get('sparse.img')?.sha);
    expect(entries.find((e) => e.path === 'sparse.img')).toMatchObject({ type: 'file', size: SPARSE_SIZE });
  });

  it('produces a catalog matching the stream', () => {
    const paths = entries.map((e) => e.path);
    // Depth-first, byte-order names, directories before their contents.
    expect(paths.indexOf('a')).toBeLessThan(paths.indexOf('a/b'));
    expect(paths.indexOf('a/b/c/file.txt')).toBeLessThan(paths.indexOf('a/hl1.txt'));
    expect(paths).toContain(LONG_NAME);
    expect(paths.every((p) => p !== '' && !p.startsWith('./') && !p.endsWith('/'))).toBe(true);
    // The stream starts with the root directory's own "./" header, which is not a catalog entry.
    let pos = entries[0]!.offset;
    expect(pos).toBeGreaterThanOrEqual(512);
    for (const e of entries) {
      expect(e.offset).toBe(pos); // entries tile the stream
      expect(() => decodeUstar(tar.subarray(e.offset, e.offset + 512), e.offset)).not.toThrow();
      pos = e.end;
    }
    expect(tar.length).toBe(pos + 1024);
    expect(tar.subarray(pos).every((b) => b === 0)).toBe(true);
    expect(entries.find((e) => e.path === 'hl2.txt')).toMatchObject({ type: 'hardlink', target: 'a/hl1.txt', size: 0 });
    expect(entries.find((e) => e.path === 'link-rel')).toMatchObject({ type: 'symlink', target: 'small.txt' });
    expect(entries.find((e) => e.path === 'small.txt')?.mtime).toBeCloseTo(1_600_000_000.123456, 5);
    expect(entries.find((e) => e.path === 'sticky')).toMatchObject({ type: 'dir', mode: 0o1777 });
    expect(entries.find((e) => e.path === 'fifo')?.type).toBe('fifo');
  });
});
