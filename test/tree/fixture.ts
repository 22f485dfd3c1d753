/**
 * A source tree exercising every entry kind and metadata the tar writer handles, plus a
 * snapshot of a tree (type, content hash, mode, owner, times, xattrs, link structure) to
 * compare a restore against.
 */
import { execFileSync } from 'node:child_process';
import type { BigIntStats } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, linkSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, closeSync, symlinkSync, truncateSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getAttributeSync, listAttributesSync, setAttributeSync } from 'fs-xattr';
import { buildHeaders, padTo512, type HeaderInput } from '../../src/tree/entry-header.js';

export const isRoot = process.getuid?.() === 0;

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `gv-tree-${tag}-`));
}

export const LONG_NAME = `${'n'.repeat(150)}.txt`;
export const DEEP_DIR = ['d'.repeat(60), 'e'.repeat(60), 'f'.repeat(60), 'g'.repeat(60)].join('/');
export const DEEP_FILE = `${DEEP_DIR}/${'h'.repeat(70)}.dat`; // > 255 bytes in total
export const BINARY_XATTR = Buffer.from([0, 1, 2, 255, 0x3d, 0x0a, 0x20, 0, 128, 0x31, 0x20]);
export const SPARSE_SIZE = 64 * 1024 * 1024;

/**
 * Builds the fixture under a fresh temp dir and returns its path. Reading a big hole costs
 * real time (the kernel zero-fills every page), so tests that are not about sparseness ask
 * for a smaller sparse file.
 */
export function buildFixture(sparseSize = SPARSE_SIZE): string {
  const root = tempDir('src');
  const p = (rel: string): string => join(root, rel);
  writeFileSync(p('empty.txt'), '');
  writeFileSync(p('small.txt'), 'hello, tree\n');
  writeFileSync(p('big.bin'), randomBytes(3 * 1024 * 1024 + 123));
  writeFileSync(p(LONG_NAME), 'long name\n');
  mkdirSync(p(DEEP_DIR), { recursive: true });
  writeFileSync(p(DEEP_FILE), 'deep\n');
  writeFileSync(p('ünïcødé-ファイル.txt'), 'utf8 name\n');

  mkdirSync(p('a/b/c'), { recursive: true });
  writeFileSync(p('a/b/c/file.txt'), 'nested\n');
  writeFileSync(p('a/hl1.txt'), 'hard linked content\n');
  linkSync(p('a/hl1.txt'), p('hl2.txt'));
  symlinkSync('small.txt', p('link-rel'));
  symlinkSync('../../small.txt', p('a/b/up'));
  symlinkSync('does/not/exist', p('dangling'));
  symlinkSync('x'.repeat(180), p('long-target'));
  execFileSync('mkfifo', [p('fifo')]);
  if (isRoot) execFileSync('mknod', [p('null-dev'), 'c', '1', '3']);

  // Sparse: 64 MiB with a few bytes of data in the middle and one block near the start.
  writeFileSync(p('sparse.img'), '');
  truncateSync(p('sparse.img'), sparseSize);
  const fd = openSync(p('sparse.img'), 'r+');
  writeSync(fd, Buffer.from('middle of nowhere'), 0, 17, sparseSize / 2 + 5);
  writeSync(fd, Buffer.from('early'), 0, 5, 10_000);
  closeSync(fd);

  setAttributeSync(p('small.txt'), 'user.binary', BINARY_XATTR);
  setAttributeSync(p('small.txt'), 'user.text', 'plain');
  setAttributeSync(p('a'), 'user.on-dir', Buffer.from([9, 8, 7]));

  writeFileSync(p('private.txt'), 'secret\n');
  chmodSync(p('private.txt'), 0o600);
  writeFileSync(p('exec.sh'), '#!/bin/sh\n');
  chmodSync(p('exec.sh'), 0o755);
  writeFileSync(p('setuid-bin'), 'suid\n');
  mkdirSync(p('sticky'));
  chmodSync(p('sticky'), 0o1777);
  writeFileSync(p('sticky/inside.txt'), 'in sticky\n');
  writeFileSync(p('owned.txt'), 'owned\n');
  writeFileSync(p('huge-uid.txt'), 'huge uid\n');
  if (isRoot) {
    chownSync(p('owned.txt'), 1234, 5678);
    chownSync(p('huge-uid.txt'), 3_000_000, 2_500_000); // beyond the 7-digit octal field
    chownSync(p('setuid-bin'), 1234, 1234);
  }
  chmodSync(p('setuid-bin'), 0o4755); // after chown, which clears setuid

  // Sub-second times on files, a symlink and (last, since writes change them) directories.
  utimesSync(p('small.txt'), 1_600_000_000.5, 1_600_000_000.123456);
  utimesSync(p('big.bin'), 1_500_000_000, 1_500_000_000.987);
  lutimesSync(p('link-rel'), 1_400_000_000, 1_400_000_000.25);
  utimesSync(p('a/b'), 1_300_000_000, 1_300_000_000.75);
  return root;
}

export interface Snapshot {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  size: number;
  sha?: string;
  target?: string;
  xattrs?: Record<string, string>;
  /** The first path (in sorted order) sharing this inode, for hard links. */
  inodeGroup?: string;
}

function typeOf(st: BigIntStats): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isBlockDevice()) return 'blockdev';
  return 'other';
}

/** Every path under root (root itself excluded) with what a restore must reproduce. */
export function snapshot(root: string): Map<string, Snapshot> {
  const out = new Map<string, Snapshot>();
  const inodes = new Map<bigint, string>();
  const walk = (rel: string): void => {
    const names = readdirSync(rel === '' ? root : join(root, rel)).sort();
    for (const name of names) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const abs = join(root, r);
      const st = lstatSync(abs, { bigint: true });
      const s: Snapshot = {
        type: typeOf(st),
        mode: Number(st.mode & 0o7777n),
        uid: Number(st.uid),
        gid: Number(st.gid),
        mtimeNs: st.mtimeNs,
        size: st.isFile() ? Number(st.size) : 0,
      };
      if (st.isFile()) {
        s.sha = createHash('sha1').update(readFileSync(abs)).digest('hex');
        if (st.nlink > 1n) {
          if (!inodes.has(st.ino)) inodes.set(st.ino, r);
          s.inodeGroup = inodes.get(st.ino);
        }
      }
      if (st.isSymbolicLink()) s.target = readlinkSync(abs);
      else {
        const xattrs: Record<string, string> = {};
        for (const n of listAttributesSync(abs).sort()) xattrs[n] = getAttributeSync(abs, n).toString('hex');
        s.xattrs = xattrs;
      }
      out.set(r, s);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

/** The part of a snapshot at or below `prefix`. */
export function subtree(snap: Map<string, Snapshot>, prefix: string): Map<string, Snapshot> {
  return new Map([...snap].filter(([p]) => p === prefix || p.startsWith(`${prefix}/`)));
}

/** Snapshot fields differing between two trees, as readable lines (empty when equal). */
export function diffSnapshots(a: Map<string, Snapshot>, b: Map<string, Snapshot>): string[] {
  const diffs: string[] = [];
  for (const [path, sa] of a) {
    const sb = b.get(path);
    if (!sb) {
      diffs.push(`${path}: missing`);
      continue;
    }
    for (const key of ['type', 'mode', 'uid', 'gid', 'size', 'sha', 'target', 'inodeGroup'] as const) {
      if (sa[key] !== sb[key]) diffs.push(`${path}: ${key} ${String(sa[key])} != ${String(sb[key])}`);
    }
    if (JSON.stringify(sa.xattrs) !== JSON.stringify(sb.xattrs)) diffs.push(`${path}: xattrs ${JSON.stringify(sa.xattrs)} != ${JSON.stringify(sb.xattrs)}`);
    // Restored times go through a double (Node's utimes): equal to well under a millisecond.
    const dt = sa.mtimeNs - sb.mtimeNs;
    if (dt > 1_000_000n || dt < -1_000_000n) diffs.push(`${path}: mtime ${sa.mtimeNs} != ${sb.mtimeNs}`);
  }
  for (const path of b.keys()) if (!a.has(path)) diffs.push(`${path}: unexpected`);
  return diffs;
}

export async function collect(gen: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of gen) parts.push(b);
  return Buffer.concat(parts);
}

/** A buffer as a stream of odd-sized chunks, so readers cannot rely on block-aligned input. */
export async function* chunked(buf: Buffer, size = 65_537): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** A hand-made archive (for entries our writer would never produce, like '../x'). */
export function handMadeTar(entries: Array<Partial<HeaderInput> & { path: string; data?: Buffer }>): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    parts.push(buildHeaders({ type: 'file', mode: 0o644, uid: 0, gid: 0, mtimeNs: 1_700_000_000_000_000_000n, size: data.length, ...e }));
    parts.push(data, Buffer.alloc(padTo512(data.length) - data.length));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
