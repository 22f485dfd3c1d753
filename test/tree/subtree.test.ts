/** The catalog: its encoding, and restoring single entries or subtrees from byte ranges; stream stability. */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGuestvaultError } from '../../src/errors.js';
import { catalogRange, decodeCatalog, encodeCatalog, extractTar, tarDirectory, type CatalogEntry } from '../../src/tree/index.js';
import { buildFixture, chunked, collect, DEEP_FILE, diffSnapshots, snapshot, subtree, tempDir, type Snapshot } from './fixture.js';

describe('catalog and partial restore', () => {
  let src: string;
  let tar: Buffer;
  let before: Map<string, Snapshot>;
  const entries: CatalogEntry[] = [];
  const cleanup: string[] = [];
  const fresh = (tag: string): string => {
    const d = tempDir(tag);
    cleanup.push(d);
    return d;
  };

  beforeAll(async () => {
    src = buildFixture(1024 * 1024);
    cleanup.push(src);
    tar = await collect(tarDirectory(src, { onEntry: (e) => entries.push(e) }));
    before = snapshot(src);
  });
  afterAll(() => {
    for (const d of cleanup) rmSync(d, { recursive: true, force: true });
  });

  it('is deterministic (an unchanged tree de-duplicates completely) and yields at most 1 MiB at a time', async () => {
    const pieces: Buffer[] = [];
    for await (const piece of tarDirectory(src)) pieces.push(piece);
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThanOrEqual(1024 * 1024);
    expect(Buffer.concat(pieces).equals(tar)).toBe(true);
  });

  it('encodes and decodes the catalog losslessly', () => {
    const buf = encodeCatalog(entries);
    expect(decodeCatalog(buf, 'test catalog')).toEqual(entries);
    expect(buf.length).toBeLessThan(entries.length * 200 + 2000);
  });

  it('rejects a damaged catalog with a typed error', () => {
    const good = encodeCatalog(entries);
    const cases: Buffer[] = [
      Buffer.from('not a catalog at all'),
      Buffer.from([0xff, 0x00, 0x13, 0x37]),
      good.subarray(0, good.length - 10), // cut mid-record
      Buffer.from(good.toString().replace('"0",', '"Z",')), // unknown type
      Buffer.from(`${good.toString().split('\n')[0]}\n[1,2,3]\n`),
      Buffer.from(`${good.toString().split('\n')[0]}\n{"path":"x"\n`),
    ];
    for (const c of cases) {
      let err: unknown;
      try {
        decodeCatalog(c, 'snapshot 42 catalog');
      } catch (e) {
        err = e;
      }
      expect(isGuestvaultError(err, 'E_CATALOG_CORRUPT')).toBe(true);
      expect((err as Error).message).toContain('snapshot 42 catalog');
    }
  });

  it('finds entries and subtree ranges', () => {
    const a = catalogRange(entries, 'a');
    expect(a?.entry.type).toBe('dir');
    const last = entries.filter((e) => e.path.startsWith('a/')).at(-1);
    expect(a?.end).toBe(last?.end);
    expect(catalogRange(entries, './a/')).toEqual(a);
    expect(catalogRange(entries, '/a')).toEqual(a);
    const file = catalogRange(entries, 'small.txt');
    expect(file).toMatchObject({ start: file?.entry.offset, end: file?.entry.end });
    expect(catalogRange(entries, 'nope')).toBeUndefined();
    // 'a' must not swallow a sibling that merely shares the prefix.
    expect(catalogRange(entries, 'a/b')?.end).toBeLessThanOrEqual(catalogRange(entries, 'a/hl1.txt')?.start ?? 0);
  });

  it('restores just a subtree from its byte range', async () => {
    const r = catalogRange(entries, 'a');
    if (!r) throw new Error('no a');
    const dst = fresh('sub');
    const seen: string[] = [];
    const warnings: string[] = [];
    await extractTar(chunked(tar.subarray(r.start, r.end)), dst, { onEntry: (p) => seen.push(p), onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expect(seen[0]).toBe('a');
    // a/hl1.txt's second link (hl2.txt) is outside the subtree, so it comes back with one link.
    const noLinks = (m: Map<string, Snapshot>): Map<string, Snapshot> => new Map([...m].map(([p, s]) => [p, { ...s, inodeGroup: undefined }]));
    expect(diffSnapshots(noLinks(subtree(before, 'a')), noLinks(snapshot(dst)))).toEqual([]);
  });

  it('stops after maxBytes when the stream goes on past the range', async () => {
    const r = catalogRange(entries, 'a/b');
    if (!r) throw new Error('no a/b');
    const dst = fresh('max');
    const res = await extractTar(chunked(tar.subarray(r.start)), dst, { maxBytes: r.end - r.start });
    expect(res.entries).toBe(entries.filter((e) => e.path === 'a/b' || e.path.startsWith('a/b/')).length);
    expect([...snapshot(dst).keys()].sort()).toEqual(['a', ...subtree(before, 'a/b').keys()].sort());
  });

  it('restores a single deep file, creating its parents', async () => {
    const r = catalogRange(entries, DEEP_FILE);
    if (!r) throw new Error('no deep file');
    const dst = fresh('deep');
    await extractTar(chunked(tar.subarray(r.start, r.end)), dst);
    expect(readFileSync(join(dst, DEEP_FILE), 'utf8')).toBe('deep\n');
  });

  it('warns when a hard link points outside the restored range', async () => {
    const r = catalogRange(entries, 'hl2.txt');
    expect(r?.entry).toMatchObject({ type: 'hardlink', target: 'a/hl1.txt' });
    const dst = fresh('hl');
    const warnings: string[] = [];
    const res = await extractTar(chunked(tar.subarray(r?.start, r?.end)), dst, { onWarning: (m) => warnings.push(m) });
    expect(res.entries).toBe(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/hl2\.txt.*a\/hl1\.txt.*not restored/);
  });

  it('can restore every entry on its own from [offset, end)', async () => {
    const dst = fresh('each');
    for (const e of entries) {
      if (e.type === 'hardlink') continue;
      const res = await extractTar(chunked(tar.subarray(e.offset, e.end)), dst);
      expect(res.entries).toBe(1);
    }
    const after = snapshot(dst);
    for (const [path, s] of before) {
      if (s.type === 'dir' || path === 'hl2.txt') continue;
      const a = after.get(path);
      expect([a?.type, a?.sha, a?.mode, a?.target], path).toEqual([s.type, s.sha, s.mode, s.target]);
    }
  });
});
