/** Typed errors and warnings: bad sources, damaged or hostile streams, files changing underneath. */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractTar, tarDirectory, type CatalogEntry } from '../../src/tree/index.js';
import { chunked, collect, handMadeTar, tempDir } from './fixture.js';

const cleanup: string[] = [];
afterAll(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});
const fresh = (tag: string): string => {
  const d = tempDir(tag);
  cleanup.push(d);
  return d;
};

async function smallTar(): Promise<{ tar: Buffer; entries: CatalogEntry[] }> {
  const src = fresh('small');
  mkdirSync(join(src, 'dir'));
  writeFileSync(join(src, 'dir/one.txt'), 'one\n');
  writeFileSync(join(src, 'two.bin'), Buffer.alloc(5000, 7));
  const entries: CatalogEntry[] = [];
  const tar = await collect(tarDirectory(src, { onEntry: (e) => entries.push(e) }));
  return { tar, entries };
}

describe('tarDirectory source errors and warnings', () => {
  it('throws E_TREE_SOURCE naming a missing root', async () => {
    const missing = join(fresh('missing'), 'not-there');
    await expect(collect(tarDirectory(missing))).rejects.toMatchObject({ code: 'E_TREE_SOURCE', message: expect.stringContaining(missing) });
  });

  it('throws E_TREE_SOURCE when the root is not a directory', async () => {
    const file = join(fresh('file'), 'plain');
    writeFileSync(file, 'x');
    await expect(collect(tarDirectory(file))).rejects.toMatchObject({ code: 'E_TREE_SOURCE', message: expect.stringContaining(file) });
  });

  it('skips sockets and names that are not UTF-8 with a warning', async () => {
    const src = fresh('sock');
    writeFileSync(join(src, 'keep.txt'), 'k');
    writeFileSync(Buffer.from(`${src}/bad-\xff-name`, 'latin1'), 'x');
    const server: Server = createServer();
    await new Promise<void>((ok) => server.listen(join(src, 'sock'), ok));
    try {
      const warnings: string[] = [];
      const entries: CatalogEntry[] = [];
      await collect(tarDirectory(src, { onWarning: (m) => warnings.push(m), onEntry: (e) => entries.push(e) }));
      expect(entries.map((e) => e.path)).toEqual(['keep.txt']);
      expect(warnings).toHaveLength(2);
      expect(warnings.join('\n')).toMatch(/sock: socket, skipped/);
      expect(warnings.join('\n')).toMatch(/not valid UTF-8/);
    } finally {
      await new Promise((ok) => server.close(ok));
    }
  });

  it('warns and goes on when a file vanishes, shrinks or grows during the backup', async () => {
    const src = fresh('change');
    writeFileSync(join(src, 'a-first.txt'), 'first');
    writeFileSync(join(src, 'b-gone.txt'), 'gone');
    writeFileSync(join(src, 'c-shrinks.bin'), Buffer.alloc(3000, 1));
    writeFileSync(join(src, 'd-grows.txt'), 'grows');
    const warnings: string[] = [];
    const tar = await collect(
      tarDirectory(src, {
        onWarning: (m) => warnings.push(m),
        // onEntry runs when the header is decided, before the data is read.
        onEntry: (e) => {
          if (e.path === 'a-first.txt') unlinkSync(join(src, 'b-gone.txt'));
          if (e.path === 'c-shrinks.bin') truncateSync(join(src, 'c-shrinks.bin'), 1000);
          if (e.path === 'd-grows.txt') appendFileSync(join(src, 'd-grows.txt'), ' and grows');
        },
      }),
    );
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/b-gone\.txt: vanished/);
    expect(warnings[1]).toMatch(/c-shrinks\.bin: file shrank.*3000 bytes/);
    expect(warnings[2]).toMatch(/d-grows\.txt: file grew.*first 5 bytes/);
    const dst = fresh('change-dst');
    await extractTar(chunked(tar), dst);
    const shrunk = readFileSync(join(dst, 'c-shrinks.bin'));
    expect(shrunk.length).toBe(3000);
    expect(shrunk.subarray(0, 1000).every((b) => b === 1) && shrunk.subarray(1000).every((b) => b === 0)).toBe(true);
    expect(readFileSync(join(dst, 'd-grows.txt'), 'utf8')).toBe('grows');
    expect(existsSync(join(dst, 'b-gone.txt'))).toBe(false);
  });
});

describe('extractTar stream errors', () => {
  it('reports a damaged header checksum as E_TAR_CORRUPT with the offset', async () => {
    const { tar, entries } = await smallTar();
    const victim = entries.find((e) => e.path === 'two.bin');
    if (!victim) throw new Error('fixture');
    const bad = Buffer.from(tar);
    bad[victim.offset + 1] ^= 0x20; // a flipped bit in the name
    const err = extractTar(chunked(bad), fresh('corrupt'));
    await expect(err).rejects.toMatchObject({ code: 'E_TAR_CORRUPT', message: expect.stringContaining(`offset ${victim.offset}`) });
  });

  it('reports a stream ending inside an entry as E_TAR_TRUNCATED', async () => {
    const { tar, entries } = await smallTar();
    const two = entries.find((e) => e.path === 'two.bin');
    if (!two) throw new Error('fixture');
    for (const cut of [two.end - 700, two.offset + 300]) {
      await expect(extractTar(chunked(tar.subarray(0, cut)), fresh('trunc'))).rejects.toMatchObject({ code: 'E_TAR_TRUNCATED' });
    }
    // Cut exactly between entries (a catalog range) is a clean end.
    await expect(extractTar(chunked(tar.subarray(0, two.offset)), fresh('trunc-ok'))).resolves.toMatchObject({ entries: 3 }); // "./" and the two entries before the cut
  });

  it('rejects a non-tar stream', async () => {
    const junk = Buffer.alloc(2048, 'garbage in, garbage out ');
    await expect(extractTar(chunked(junk), fresh('junk'))).rejects.toMatchObject({ code: 'E_TAR_CORRUPT' });
  });

  it('refuses paths that leave the target directory', async () => {
    const outer = fresh('unsafe');
    const target = join(outer, 'target');
    const hostile = [
      [{ path: '../escaped.txt', data: Buffer.from('x') }],
      [{ path: 'ok/../../escaped.txt', data: Buffer.from('x') }],
      [{ path: `${outer}/escaped.txt`, data: Buffer.from('x') }],
      // Plant a symlink pointing out, then write through it.
      [{ path: 'esc', type: 'symlink' as const, linkTarget: outer }, { path: 'esc/escaped.txt', data: Buffer.from('x') }],
      [{ path: 'hl', type: 'hardlink' as const, linkTarget: '../escaped.txt' }],
    ];
    for (const entries of hostile) {
      await expect(extractTar(chunked(handMadeTar(entries)), target)).rejects.toMatchObject({ code: 'E_TAR_UNSAFE_PATH' });
      expect(existsSync(join(outer, 'escaped.txt'))).toBe(false);
    }
  });

  it('reads values that only fit in pax records (size >= 8 GiB, big uid, negative mtime)', async () => {
    const { TarReader } = await import('../../src/tree/tar-reader.js');
    const { ByteSource } = await import('../../src/tree/byte-source.js');
    const { buildHeaders } = await import('../../src/tree/entry-header.js');
    const header = buildHeaders({
      path: 'huge.img',
      type: 'file',
      mode: 0o640,
      uid: 4_000_000_000,
      gid: 3_000_000,
      mtimeNs: -1_500_000_000n,
      size: 9 * 1024 ** 3,
    });
    const text = header.toString('latin1');
    expect(text).toContain(' size=9663676416\n');
    expect(text).toContain(' uid=4000000000\n');
    expect(text).toContain(' mtime=-1.5\n');
    const entry = await new TarReader(new ByteSource(chunked(header))).next();
    expect(entry).toMatchObject({ path: 'huge.img', size: 9 * 1024 ** 3, uid: 4_000_000_000, gid: 3_000_000, mtime: -1.5, mode: 0o640 });
  });
});
