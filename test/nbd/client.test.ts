import { execFileSync, execSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGuestvaultError } from '../../src/errors.js';
import { NbdClient, NBD_STATE_DIRTY, NBD_STATE_HOLE, NBD_STATE_ZERO, type NbdExtent } from '../../src/nbd/index.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZE = 64 * MiB;
const HOLE = NBD_STATE_HOLE | NBD_STATE_ZERO;
const BITMAP_CTX = 'qemu:dirty-bitmap:bk';

let dir: string;
let image: string;
let raw: Buffer;
const servers: ChildProcess[] = [];

function ensureQemuUtils(): void {
  try {
    execSync('command -v qemu-nbd && command -v qemu-img && command -v qemu-io', { stdio: 'ignore' });
  } catch {
    execSync('apt-get install -y --no-install-recommends qemu-utils', { stdio: 'ignore' });
  }
}

function qemuIo(...cmds: string[]): void {
  execFileSync('qemu-io', ['-f', 'qcow2', ...cmds.flatMap((c) => ['-c', c]), image], { stdio: 'pipe' });
}

/** Starts qemu-nbd on a fresh unix socket and waits until it accepts connections. */
async function startServer(name: string, extra: string[] = []): Promise<{ sock: string; proc: ChildProcess }> {
  const sock = path.join(dir, `${name}.sock`);
  const proc = spawn(
    'qemu-nbd',
    [`--socket=${sock}`, '--format=qcow2', '--export-name=disk', '--persistent', '--read-only', '--shared=32', ...extra, image],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  servers.push(proc);
  let stderr = '';
  proc.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  for (let i = 0; i < 200 && !existsSync(sock); i++) {
    if (proc.exitCode !== null) throw new Error(`qemu-nbd exited: ${stderr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  if (!existsSync(sock)) throw new Error(`qemu-nbd did not create ${sock}: ${stderr}`);
  return { sock, proc };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return isGuestvaultError(err) ? err.code : `not a GuestvaultError: ${String(err)}`;
  }
}

/** Expected contents: 0xab at 1M (64k, first 4k overwritten by 0xef later), 0xcd at 4M (128k), 0xee at 8M, 0x77 at the end. */
function expectedAt(offset: number, length: number): Buffer {
  return raw.subarray(offset, offset + length);
}

let sock: string;

beforeAll(async () => {
  ensureQemuUtils();
  dir = await mkdtemp(path.join(tmpdir(), 'gv-nbd-'));
  image = path.join(dir, 'disk.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, String(SIZE)]);
  qemuIo('write -P 0xab 1M 64k', 'write -P 0xcd 4M 128k', `write -P 0x77 ${SIZE - 64 * KiB} 64k`);
  // Bitmap added now records only the writes below (qemu-io loads and stores it automatically).
  execFileSync('qemu-img', ['bitmap', '--add', '-f', 'qcow2', image, 'bk']);
  qemuIo('write -P 0xee 8M 64k', 'write -P 0xef 1M 4k');
  const rawPath = path.join(dir, 'disk.raw');
  execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', image, rawPath]);
  raw = await readFile(rawPath);
  ({ sock } = await startServer('main', ['-B', 'bk']));
});

afterAll(async () => {
  for (const p of servers) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('NbdClient against qemu-nbd', () => {
  it('negotiates size, read-only flag and meta context ids', async () => {
    const c = await NbdClient.connect({ path: sock, exportName: 'disk', metaContexts: ['base:allocation', BITMAP_CTX] });
    try {
      expect(c.size).toBe(SIZE);
      expect(c.structuredReplies).toBe(true);
      expect(c.transmissionFlags & 2).toBe(2); // NBD_FLAG_READ_ONLY
      expect([...c.contexts.keys()].sort()).toEqual(['base:allocation', BITMAP_CTX]);
      expect(new Set(c.contexts.values()).size).toBe(2);
    } finally {
      await c.close();
    }
  });

  it('reads data, holes and ranges across both', async () => {
    const c = await NbdClient.connect({ path: sock, exportName: 'disk' });
    try {
      expect((await c.read(1 * MiB, 4 * KiB)).equals(Buffer.alloc(4 * KiB, 0xef))).toBe(true);
      expect((await c.read(1 * MiB + 4 * KiB, 60 * KiB)).equals(Buffer.alloc(60 * KiB, 0xab))).toBe(true);
      expect((await c.read(2 * MiB, 256 * KiB)).equals(Buffer.alloc(256 * KiB))).toBe(true);
      const across = await c.read(1 * MiB - 100, 200);
      expect(across.subarray(0, 100).equals(Buffer.alloc(100))).toBe(true);
      expect(across.subarray(100).equals(Buffer.alloc(100, 0xef))).toBe(true);
      const big = await c.read(3 * MiB + 7, 6 * MiB);
      expect(big.equals(expectedAt(3 * MiB + 7, 6 * MiB))).toBe(true);
      expect((await c.read(SIZE - 1, 1))[0]).toBe(0x77);
      expect((await c.read(0, 0)).equals(Buffer.alloc(0))).toBe(true);
      expect(await codeOf(c.read(SIZE - 10, 11))).toBe('E_NBD_IO');
    } finally {
      await c.close();
    }
  });

  it('a full read is byte-identical to qemu-img convert -O raw (requests split at 32 MiB)', async () => {
    const c = await NbdClient.connect({ path: sock, exportName: 'disk' });
    try {
      expect(c.maxRequest).toBeLessThanOrEqual(32 * MiB);
      const all = await c.read(0, c.size);
      expect(all.length).toBe(raw.length);
      expect(all.equals(raw)).toBe(true);
    } finally {
      await c.close();
    }
  });

  it('keeps many reads in flight at once', async () => {
    const c = await NbdClient.connect({ path: sock, exportName: 'disk' });
    try {
      const jobs: Array<{ off: number; len: number }> = [];
      let seed = 12345;
      const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
      for (let i = 0; i < 100; i++) {
        const off = i % 4 === 0 ? 1 * MiB - 1000 + rnd(9 * MiB) : rnd(SIZE - 300 * KiB);
        jobs.push({ off, len: 1 + rnd(256 * KiB) });
      }
      const results = await Promise.all(jobs.map((j) => c.read(j.off, j.len)));
      results.forEach((r, i) => expect(r.equals(expectedAt(jobs[i]!.off, jobs[i]!.len))).toBe(true));
    } finally {
      await c.close();
    }
  });

  it('base:allocation marks holes and data exactly where written', async () => {
    const c = await NbdClient.connect({ path: sock, exportName: 'disk', metaContexts: ['base:allocation'] });
    try {
      const expected: NbdExtent[] = [
        { offset: 0, length: 1 * MiB, flags: HOLE },
        { offset: 1 * MiB, length: 64 * KiB, flags: 0 },
        { offset: 1 * MiB + 64 * KiB, length: 3 * MiB - 64 * KiB, flags: HOLE },
        { offset: 4 * MiB, length: 128 * KiB, flags: 0 },
        { offset: 4 * MiB + 128 * KiB, length: 4 * MiB - 128 * KiB, flags: HOLE },
        { offset: 8 * MiB, length: 64 * KiB, flags: 0 },
        { offset: 8 * MiB + 64 * KiB, length: SIZE - 64 * KiB - 8 * MiB - 64 * KiB, flags: HOLE },
        { offset: SIZE - 64 * KiB, length: 64 * KiB, flags: 0 },
      ];
      expect(await c.blockStatus(0, SIZE, 'base:allocation')).toEqual(expected);
      const viaGenerator: NbdExtent[] = [];
      for await (const e of c.extents('base:allocation', 3 * MiB)) viaGenerator.push(e);
      expect(viaGenerator).toEqual(expected);
      expect(await c.blockStatus(1 * MiB + 10, 100, 'base:allocation')).toEqual([{ offset: 1 * MiB + 10, length: 100, flags: 0 }]);
      expect(await codeOf(c.blockStatus(0, 1, BITMAP_CTX))).toBe('E_NBD_CONTEXT');
    } finally {
      await c.close();
    }
  });

  it('the dirty bitmap context covers exactly what was written after the bitmap was added', async () => {
    const c = await NbdClient.connect({ path: sock, exportName: 'disk', metaContexts: [BITMAP_CTX] });
    try {
      const dirty: NbdExtent[] = [];
      for await (const e of c.extents(BITMAP_CTX)) if (e.flags & NBD_STATE_DIRTY) dirty.push(e);
      expect(dirty).toEqual([
        { offset: 1 * MiB, length: 64 * KiB, flags: 1 },
        { offset: 8 * MiB, length: 64 * KiB, flags: 1 },
      ]);
      const all = await c.blockStatus(0, SIZE, BITMAP_CTX);
      expect(all.reduce((n, e) => n + e.length, 0)).toBe(SIZE);
      expect(all[0]).toEqual({ offset: 0, length: 1 * MiB, flags: 0 });
    } finally {
      await c.close();
    }
  });

  it('rejects an unknown export with E_NBD_EXPORT and an unknown bitmap with E_NBD_CONTEXT', async () => {
    expect(await codeOf(NbdClient.connect({ path: sock, exportName: 'nope' }))).toBe('E_NBD_EXPORT');
    expect(await codeOf(NbdClient.connect({ path: sock, exportName: 'nope', metaContexts: ['base:allocation'] }))).toBe('E_NBD_EXPORT');
    expect(await codeOf(NbdClient.connect({ path: sock, exportName: 'disk', metaContexts: ['qemu:dirty-bitmap:missing'] }))).toBe(
      'E_NBD_CONTEXT',
    );
    const err = await NbdClient.connect({ path: sock, exportName: 'nope' }).catch((e: unknown) => e);
    expect(String((err as Error).message)).toContain('nope');
    expect(String((err as Error).message)).toContain(sock);
  });

  it('reports E_NBD_CONNECT when nothing listens', async () => {
    expect(await codeOf(NbdClient.connect({ path: path.join(dir, 'absent.sock'), exportName: 'disk' }))).toBe('E_NBD_CONNECT');
    expect(await codeOf(NbdClient.connect({ host: '127.0.0.1', port: 1, exportName: 'disk' }))).toBe('E_NBD_CONNECT');
  });

  it('times out a stalled request, then rejects pending reads with E_NBD_IO when the server dies', async () => {
    const { sock: s2, proc } = await startServer('victim');
    const c = await NbdClient.connect({ path: s2, exportName: 'disk', timeoutMs: 1500 });
    expect((await c.read(1 * MiB, 16)).equals(Buffer.alloc(16, 0xef))).toBe(true);
    proc.kill('SIGSTOP');
    try {
      const t0 = Date.now();
      expect(await codeOf(c.read(4 * MiB, 4 * KiB))).toBe('E_NBD_TIMEOUT');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
      const pending = [c.read(0, 1 * MiB), c.read(4 * MiB, 64 * KiB), c.read(8 * MiB, 8 * MiB)].map(codeOf);
      await new Promise((r) => setTimeout(r, 100));
      proc.kill('SIGKILL');
      expect(await Promise.all(pending)).toEqual(['E_NBD_IO', 'E_NBD_IO', 'E_NBD_IO']);
      expect(await codeOf(c.read(0, 1))).toBe('E_NBD_IO');
    } finally {
      proc.kill('SIGKILL');
      await c.close();
    }
  });
});
