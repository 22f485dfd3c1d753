// Deterministic generation of a synthetic VM disk image for the benchmark.
//
// The image is a sequence of regions of a few MiB (1-11 MiB, aligned to
// 1 MiB), each one of three kinds, in about these shares of the image:
//   zeros        30 %  (unused / trimmed space)
//   text         30 %  (log-like lines; zstd -1 compresses it about 3-5x)
//   random       40 %  (already compressed or encrypted data)
// A second image ("changed") is a copy with 2 % of its 4 MiB-aligned blocks
// overwritten with new random data.
//
// All randomness comes from AES-256-CTR keystreams (AES over zeros) with keys
// derived from the seed, so the same seed and size always give the same bytes;
// random data comes at several hundred MiB/s, text at about 50-80 MiB/s (the
// images are cached in the work directory, so this is paid once per size).

import { createCipheriv, createHash } from 'node:crypto';
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const MiB = 1024 * 1024;
export const BLOCK = 4 * MiB; // the alignment of the rewritten regions in the changed image

// Bump when the generator changes, so that cached images are regenerated.
const GENERATOR_VERSION = 4;

const SHARES = { zero: 0.3, text: 0.3, random: 0.4 };

/** A keystream of pseudo-random bytes: AES-256-CTR over zeros, key and IV from (seed, label). */
export class KeyStream {
  constructor(seed, label) {
    const digest = createHash('sha512').update(`${seed}\0${label}`).digest();
    this.cipher = createCipheriv('aes-256-ctr', digest.subarray(0, 32), digest.subarray(32, 48));
    this.pool = new Uint32Array(0);
    this.pos = 0;
  }

  /** n fresh random bytes (a new buffer). */
  bytes(n) {
    return this.cipher.update(Buffer.alloc(n));
  }

  /** Fill buf with random bytes. */
  fill(buf) {
    // cipher.update allocates its output: 64 KiB pieces are several times
    // faster than large ones (no fresh pages to fault in each time).
    const piece = 64 * 1024;
    const zeros = Buffer.alloc(piece);
    for (let off = 0; off < buf.length; off += piece) {
      const n = Math.min(piece, buf.length - off);
      this.cipher.update(n === piece ? zeros : zeros.subarray(0, n)).copy(buf, off);
    }
    return buf;
  }

  u32() {
    if (this.pos >= this.pool.length) {
      const bytes = this.bytes(64 * 1024);
      this.pool = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
      this.pos = 0;
    }
    return this.pool[this.pos++];
  }

  /** Integer in [0, n), n <= 2^32 (the tiny modulo bias does not matter here). */
  below(n) {
    return this.u32() % n;
  }

  /** Float in [0, 1). */
  float() {
    return this.u32() / 4294967296;
  }
}

// ---------------------------------------------------------------------------
// Text-like data: syslog-ish lines with increasing timestamps, a handful of
// hosts and programs, words from a small vocabulary and varying numbers.

const VOCABULARY = (
  'the of and to in is was for on that with as by at from this be are or an it not ' +
  'which have has had but were can all their one been more when will there if would ' +
  'about out up into only other new some could time these two may then first any like ' +
  'now such over also most after made many before through back years where much your ' +
  'way well down should because each just those people how too little state good very ' +
  'make world still own see men work long get here between both life being under never ' +
  'day same another know while last might us great old year off come since against go ' +
  'came right used take three connection session request response client server user ' +
  'started stopped finished failed error warning info debug closed opened accepted ' +
  'rejected timeout retry retrying queue worker thread process service daemon kernel ' +
  'device network interface address port packet received sent bytes block disk volume ' +
  'mount filesystem cache buffer memory page allocated freed lock unlock commit rollback ' +
  'transaction database table index query insert update delete select backup restore ' +
  'snapshot chunk archive upload download sync check verify status ok done pending ' +
  'scheduled cron job task timer login logout password key certificate expired renewed ' +
  'config reload signal child exited code link up down carrier dhcp lease renew route'
).split(' ');

const HOSTS = ['web01', 'web02', 'db01', 'cache01', 'app03', 'app04', 'mail', 'backup'];
const PROGRAMS = ['sshd', 'nginx', 'postgres', 'kernel', 'systemd', 'cron', 'dockerd', 'app', 'postfix/smtpd', 'redis-server'];
const LEVELS = ['INFO', 'INFO', 'INFO', 'DEBUG', 'DEBUG', 'WARN', 'ERROR', 'NOTICE'];

const latin1 = (text) => Buffer.from(text, 'latin1');
const WORD_BYTES = VOCABULARY.map((w) => latin1(` ${w}`));
const HOST_BYTES = HOSTS.map((h) => latin1(` ${h} `));
const PROGRAM_BYTES = PROGRAMS.map((p) => latin1(p));
const LEVEL_BYTES = LEVELS.map((l) => latin1(`]: ${l}`));
const MS_BYTES = latin1(' ms)\n');
const SP = 0x20;
const DOT = 0x2e;

/**
 * Generates an endless stream of log lines straight into buffers (no
 * strings, so it runs at a few hundred MiB/s). State carries over between
 * calls: a line cut at the end of one buffer continues in the next.
 */
export class TextGenerator {
  constructor(seed) {
    this.rng = new KeyStream(seed, 'text');
    this.time = Date.UTC(2025, 2, 1, 0, 0, 0); // fixed start: deterministic
    this.second = -1;
    this.stamp = Buffer.alloc(0);
    this.line = Buffer.alloc(4096); // one line is at most ~300 bytes
    this.len = 0; // bytes of this.line not yet written out
    this.done = 0;
    // A fixed set of message templates, like the format strings of a program:
    // a word, a number (#) or key=number.
    this.templates = [];
    for (let i = 0; i < 400; i++) {
      const tokens = [];
      const n = 3 + this.rng.below(10);
      for (let j = 0; j < n; j++) {
        const k = this.rng.below(8);
        const word = VOCABULARY[this.rng.below(VOCABULARY.length)];
        if (k === 0) tokens.push({ kind: 'number', bytes: latin1(' ') });
        else if (k === 1) tokens.push({ kind: 'pair', bytes: latin1(` ${word}=`) });
        else tokens.push({ kind: 'word', bytes: latin1(` ${word}`) });
      }
      this.templates.push(tokens);
    }
  }

  put(bytes, pos) {
    // A plain loop: much cheaper than Buffer#copy for a few bytes.
    const line = this.line;
    for (let i = 0; i < bytes.length; i++) line[pos + i] = bytes[i];
    return pos + bytes.length;
  }

  /** Decimal digits of n (a non-negative integer) at pos, zero-padded to width. */
  number(n, pos, width = 1) {
    let digits = 1;
    for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++;
    if (digits < width) digits = width;
    for (let i = digits - 1; i >= 0; i--) {
      this.line[pos + i] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
    return pos + digits;
  }

  /** Make the next line in this.line; returns its length. */
  nextLine() {
    const r = this.rng;
    this.time += r.below(700);
    const sec = Math.floor(this.time / 1000);
    if (sec !== this.second) {
      this.second = sec;
      this.stamp = latin1(new Date(sec * 1000).toISOString().slice(0, 19));
    }
    let p = this.put(this.stamp, 0);
    this.line[p++] = DOT;
    p = this.number(this.time % 1000, p, 3);
    this.line[p++] = 0x5a; // Z
    const host = r.below(HOSTS.length);
    const prog = r.below(PROGRAMS.length);
    p = this.put(HOST_BYTES[host], p);
    p = this.put(PROGRAM_BYTES[prog], p);
    this.line[p++] = 0x5b; // [
    // Daemons keep their pid; now and then a short-lived process has a new one.
    p = this.number(r.below(8) === 0 ? 1000 + r.below(30000) : 300 + host * 97 + prog * 13, p);
    p = this.put(LEVEL_BYTES[r.below(LEVELS.length)], p);
    if (r.below(4) === 0) {
      // a free-form line
      const words = 3 + r.below(8);
      for (let i = 0; i < words; i++) p = this.put(WORD_BYTES[r.below(WORD_BYTES.length)], p);
    } else {
      // a templated line; the templates are used with a skewed frequency
      const u = r.float();
      for (const t of this.templates[Math.floor(u * u * this.templates.length)]) {
        p = this.put(t.bytes, p);
        if (t.kind === 'number') p = this.number(r.below(r.below(2) ? 100 : 100000), p);
        else if (t.kind === 'pair') p = this.number(r.below(10000), p);
      }
    }
    this.line[p++] = SP;
    this.line[p++] = 0x28; // (
    p = this.number(r.below(500), p);
    return this.put(MS_BYTES, p);
  }

  /** Fill buf completely with text. */
  fill(buf) {
    let off = 0;
    while (off < buf.length) {
      if (this.len === this.done) {
        this.len = this.nextLine();
        this.done = 0;
      }
      const n = Math.min(this.len - this.done, buf.length - off);
      this.line.copy(buf, off, this.done, this.done + n);
      this.done += n;
      off += n;
    }
    return buf;
  }
}

// ---------------------------------------------------------------------------

/** Plan the region layout: [{ kind, offset, length }] covering size bytes. */
export function planRegions(size, seed) {
  const rng = new KeyStream(seed, 'layout');
  const kinds = Object.keys(SHARES);
  const done = { zero: 0, text: 0, random: 0 };
  const regions = [];
  let offset = 0;
  while (offset < size) {
    const length = Math.min((1 + rng.below(6)) * MiB, size - offset);
    // Draw a kind by its share; but if that kind is already ahead of its
    // share (by more than 8 MiB), take the kind that is furthest behind, so
    // that even small images get close to the target mix.
    let x = rng.float();
    let kind = kinds[kinds.length - 1];
    for (const k of kinds) {
      if (x < SHARES[k]) { kind = k; break; }
      x -= SHARES[k];
    }
    const target = (k) => SHARES[k] * (offset + length);
    if (done[kind] + length > target(kind) + 8 * MiB) {
      kind = kinds.reduce((a, b) => (target(a) - done[a] >= target(b) - done[b] ? a : b));
    }
    // Merge with the previous region if it is of the same kind (keeps the list short).
    const prev = regions[regions.length - 1];
    if (prev && prev.kind === kind && prev.length < 6 * MiB) prev.length += length;
    else regions.push({ kind, offset, length });
    done[kind] += length;
    offset += length;
  }
  return regions;
}

/** Choose the 4 MiB blocks to rewrite: 2 % of them (at least one), sorted. */
export function planChanges(size, seed, fraction = 0.02) {
  const rng = new KeyStream(seed, 'changes');
  const blocks = Math.floor(size / BLOCK);
  const count = Math.max(1, Math.round(blocks * fraction));
  const chosen = new Set();
  while (chosen.size < count) chosen.add(rng.below(blocks));
  return [...chosen].sort((a, b) => a - b);
}

function writeAll(fd, buf, position) {
  let off = 0;
  while (off < buf.length) {
    off += writeSync(fd, buf, off, buf.length - off, position + off);
  }
}

function writeBase(path, size, seed, regions) {
  const randomStream = new KeyStream(seed, 'random');
  const text = new TextGenerator(seed);
  const slice = 4 * MiB;
  const zeros = Buffer.alloc(slice);
  const scratch = Buffer.alloc(slice);
  const fd = openSync(path, 'w');
  try {
    for (const r of regions) {
      for (let off = 0; off < r.length; off += slice) {
        const len = Math.min(slice, r.length - off);
        const part = r.kind === 'zero' ? zeros.subarray(0, len)
          : r.kind === 'random' ? randomStream.fill(scratch.subarray(0, len))
            : text.fill(scratch.subarray(0, len));
        writeAll(fd, part, r.offset + off);
      }
    }
  } finally {
    closeSync(fd);
  }
}

function writeChanged(basePath, path, seed, changes) {
  rmSync(path, { force: true });
  const cp = spawnSync('cp', ['--reflink=auto', basePath, path], { stdio: 'inherit' });
  if (cp.status !== 0) throw new Error(`cp --reflink=auto ${basePath} ${path} failed`);
  const rng = new KeyStream(seed, 'changed-data');
  const buf = Buffer.alloc(BLOCK);
  const fd = openSync(path, 'r+');
  try {
    for (const block of changes) writeAll(fd, rng.fill(buf), block * BLOCK);
  } finally {
    closeSync(fd);
  }
}

function summarize(regions, size) {
  const bytes = { zero: 0, text: 0, random: 0 };
  for (const r of regions) bytes[r.kind] += r.length;
  const share = {};
  for (const k of Object.keys(bytes)) share[k] = Number((bytes[k] / size).toFixed(4));
  return { regions: regions.length, bytes, share };
}

/**
 * Make sure <dir>/base.img and <dir>/changed.img exist for (size, seed);
 * reuses them when a previous run made them with the same parameters.
 * Returns a description (paths, size, mix, changed blocks, timings).
 */
export function prepareImages({ dir, size, seed, regenerate = false, log = () => {} }) {
  if (size % BLOCK !== 0 || size <= 0) throw new Error(`image size must be a positive multiple of 4 MiB, got ${size}`);
  mkdirSync(dir, { recursive: true });
  const base = join(dir, 'base.img');
  const changed = join(dir, 'changed.img');
  const metaPath = join(dir, 'image.json');
  const params = { generator: GENERATOR_VERSION, size, seed };
  const regions = planRegions(size, seed);
  const changes = planChanges(size, seed);
  const description = {
    base, changed, size, seed,
    mix: summarize(regions, size),
    changedBlocks: changes.length,
    changedBytes: changes.length * BLOCK,
    blockSize: BLOCK,
  };

  if (!regenerate && existsSync(metaPath) && existsSync(base) && existsSync(changed)) {
    try {
      const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
      if (meta.generator === params.generator && meta.size === size && meta.seed === seed &&
          statSync(base).size === size && statSync(changed).size === size) {
        log(`reusing the images in ${dir} (same size and seed; --regen to rebuild)`);
        return { ...description, reused: true };
      }
    } catch {
      // unreadable metadata: regenerate
    }
  }

  rmSync(metaPath, { force: true });
  let t = process.hrtime.bigint();
  writeBase(base, size, seed, regions);
  const baseSeconds = Number(process.hrtime.bigint() - t) / 1e9;
  log(`wrote ${base} in ${baseSeconds.toFixed(1)} s`);
  t = process.hrtime.bigint();
  writeChanged(base, changed, seed, changes);
  const changedSeconds = Number(process.hrtime.bigint() - t) / 1e9;
  log(`wrote ${changed} (${changes.length} of ${size / BLOCK} 4 MiB blocks rewritten) in ${changedSeconds.toFixed(1)} s`);
  writeFileSync(metaPath, JSON.stringify({ ...params, mix: description.mix, changes }, null, 2) + '\n');
  return { ...description, reused: false, generateSeconds: { base: baseSeconds, changed: changedSeconds } };
}
