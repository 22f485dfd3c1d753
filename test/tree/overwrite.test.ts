/** Restoring over an existing target: whatever is in the way is replaced, never written through. */
import { linkSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { extractTar, tarDirectory } from '../../src/tree/index.js';
import { chunked, collect, tempDir } from './fixture.js';

const cleanup: string[] = [];
afterAll(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

it('replaces files, symlinks, hard links and empty directories in the way', async () => {
  const src = tempDir('ow-src');
  const dst = tempDir('ow-dst');
  const outside = tempDir('ow-outside');
  cleanup.push(src, dst, outside);
  writeFileSync(join(src, 'small.txt'), 'new content');
  mkdirSync(join(src, 'a'));
  writeFileSync(join(src, 'a/f'), 'in a');
  symlinkSync('small.txt', join(src, 'link'));
  writeFileSync(join(src, 'shared.txt'), 'mine');
  writeFileSync(join(src, 'blocked'), 'cannot land');
  writeFileSync(join(src, 'pair-1'), 'linked pair');
  linkSync(join(src, 'pair-1'), join(src, 'pair-2'));

  writeFileSync(join(outside, 'victim'), 'untouched');
  writeFileSync(join(outside, 'linked'), 'untouched too');
  symlinkSync(join(outside, 'victim'), join(dst, 'small.txt')); // old symlink where a file goes
  writeFileSync(join(dst, 'a'), 'old file where a directory goes');
  mkdirSync(join(dst, 'link')); // empty directory where a symlink goes
  linkSync(join(outside, 'linked'), join(dst, 'shared.txt')); // old hard link to something else
  mkdirSync(join(dst, 'blocked/full'), { recursive: true }); // non-empty directory: kept, warned

  const tar = await collect(tarDirectory(src));
  const warnings: string[] = [];
  await extractTar(chunked(tar), dst, { onWarning: (m) => warnings.push(m) });

  expect(readFileSync(join(dst, 'small.txt'), 'utf8')).toBe('new content');
  expect(lstatSync(join(dst, 'small.txt')).isFile()).toBe(true);
  expect(readFileSync(join(dst, 'a/f'), 'utf8')).toBe('in a');
  expect(readlinkSync(join(dst, 'link'))).toBe('small.txt');
  expect(readFileSync(join(dst, 'shared.txt'), 'utf8')).toBe('mine');
  expect(readFileSync(join(outside, 'victim'), 'utf8')).toBe('untouched');
  expect(readFileSync(join(outside, 'linked'), 'utf8')).toBe('untouched too');
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(/blocked: a non-empty directory is in the way/);

  // Again over its own result: hard links are re-made to the fresh copy of their target.
  const oldIno = lstatSync(join(dst, 'pair-1')).ino;
  await extractTar(chunked(tar), dst);
  const ino = lstatSync(join(dst, 'pair-1')).ino;
  expect(ino).not.toBe(oldIno);
  expect(lstatSync(join(dst, 'pair-2')).ino).toBe(ino);
});
