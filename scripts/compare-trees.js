#!/usr/bin/env node
// Compares two directory trees entry by entry: type, mode, owner, size, mtime (to the
// microsecond: Node sets times from a double), symlink target, hard-link structure and content.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

const [, , a, b] = process.argv;
if (!a || !b) {
  console.error('usage: compare-trees.js DIR_A DIR_B');
  process.exit(2);
}

function walk(root) {
  const out = new Map();
  const inodes = new Map();
  const visit = (rel) => {
    const abs = join(root, rel);
    const st = lstatSync(abs, { bigint: true });
    const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
    const e = {
      type,
      mode: (st.mode & 0o7777n).toString(8),
      owner: `${st.uid}:${st.gid}`,
      size: type === 'dir' ? '-' : String(st.size),
      mtimeNs: st.mtimeNs,
      target: type === 'symlink' ? readlinkSync(abs) : '',
      sha: type === 'file' ? createHash('sha256').update(readFileSync(abs)).digest('hex') : '',
      // Hard links: every path of a multiply-linked file names the first path seen with its inode.
      link: '',
    };
    if (type === 'file' && st.nlink > 1n) {
      const key = `${st.ino}`;
      if (!inodes.has(key)) inodes.set(key, rel);
      e.link = inodes.get(key);
    }
    out.set(rel, e);
    if (type === 'dir') for (const n of readdirSync(abs).sort()) visit(rel ? `${rel}/${n}` : n);
  };
  visit('');
  return out;
}

const ta = walk(a);
const tb = walk(b);
const problems = [];
for (const [rel, ea] of ta) {
  const eb = tb.get(rel);
  const name = rel || '.';
  if (!eb) {
    problems.push(`${name}: missing in ${b}`);
    continue;
  }
  for (const k of ['type', 'mode', 'owner', 'size', 'target', 'sha', 'link']) {
    if (ea[k] !== eb[k]) problems.push(`${name}: ${k} differs (${ea[k]} vs ${eb[k]})`);
  }
  const dt = ea.mtimeNs - eb.mtimeNs;
  if (dt > 1000n || dt < -1000n) problems.push(`${name}: mtime differs by ${dt} ns`);
}
for (const rel of tb.keys()) if (!ta.has(rel)) problems.push(`${rel}: only in ${b}`);
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`${ta.size} entries identical: type, mode, owner, size, mtime, link target, hard links, content`);
