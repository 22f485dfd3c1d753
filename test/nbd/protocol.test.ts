import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGuestvaultError } from '../../src/errors.js';
import { NbdClient, NBD_CMD_BLOCK_STATUS, NBD_CMD_READ } from '../../src/nbd/index.js';
import { fakeByte, startFakeServer, type FakeServer } from './fake-server.js';

const MiB = 1024 * 1024;
let dir: string;
const servers: FakeServer[] = [];

function expected(offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = fakeByte(offset + i);
  return b;
}

async function serve(name: string, opts: Parameters<typeof startFakeServer>[1]): Promise<FakeServer> {
  const s = await startFakeServer(path.join(dir, `${name}.sock`), opts);
  servers.push(s);
  return s;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gv-nbd-fake-'));
});

afterAll(async () => {
  for (const s of servers) await s.close();
  await rm(dir, { recursive: true, force: true });
});

describe('NbdClient protocol corners (in-process fake server)', () => {
  it('matches out-of-order split replies by cookie; an error chunk rejects only its own request', async () => {
    const s = await serve('err', { size: 8 * MiB, badRange: [2 * MiB, 3 * MiB] });
    const c = await NbdClient.connect({ path: s.path, exportName: 'x' });
    try {
      const results = await Promise.allSettled([c.read(0, 100_000), c.read(2 * MiB + 5, 10), c.read(5 * MiB + 3, 333_333)]);
      expect(results[0].status === 'fulfilled' && results[0].value.equals(expected(0, 100_000))).toBe(true);
      expect(results[2].status === 'fulfilled' && results[2].value.equals(expected(5 * MiB + 3, 333_333))).toBe(true);
      const failed = results[1];
      expect(failed.status).toBe('rejected');
      const reason = (failed as PromiseRejectedResult).reason as Error;
      expect(isGuestvaultError(reason, 'E_NBD_IO')).toBe(true);
      expect(reason.message).toContain('EIO');
      expect(reason.message).toContain('injected failure');
      // The connection is still usable afterwards.
      expect((await c.read(7 * MiB, 10)).equals(expected(7 * MiB, 10))).toBe(true);
    } finally {
      await c.close();
    }
  });

  it('splits reads at the NBD_INFO_BLOCK_SIZE maximum', async () => {
    const s = await serve('bs', { size: 4 * MiB, maxBlock: 64 * 1024 });
    const c = await NbdClient.connect({ path: s.path, exportName: 'x' });
    try {
      expect(c.maxRequest).toBe(64 * 1024);
      expect((await c.read(1000, MiB)).equals(expected(1000, MiB))).toBe(true);
      const reads = s.requests.filter((r) => r[0] === NBD_CMD_READ);
      expect(reads.length).toBe(16);
      expect(Math.max(...reads.map((r) => r[2]))).toBe(64 * 1024);
    } finally {
      await c.close();
    }
  });

  it('loops block status until the range is covered when the server answers short', async () => {
    const s = await serve('bst', { size: 4 * MiB });
    const c = await NbdClient.connect({ path: s.path, exportName: 'x', metaContexts: ['base:allocation'] });
    try {
      expect(c.contexts.get('base:allocation')).toBe(7);
      const ext = await c.blockStatus(100, 3 * MiB, 'base:allocation');
      expect(ext[0]).toEqual({ offset: 100, length: 512 * 1024 - 100, flags: 0 });
      expect(ext.length).toBe(7);
      expect(ext.reduce((n, e) => n + e.length, 0)).toBe(3 * MiB);
      expect(ext[ext.length - 1]).toEqual({ offset: 3 * MiB, length: 100, flags: 0 });
      expect(s.requests.filter((r) => r[0] === NBD_CMD_BLOCK_STATUS).length).toBe(4);
      const all = [];
      for await (const e of c.extents('base:allocation', 1536 * 1024)) all.push(e);
      expect(all.map((e) => e.flags)).toEqual([0, 3, 0, 3, 0, 3, 0, 3]);
    } finally {
      await c.close();
    }
  });

  it('works with simple replies when the server refuses structured replies', async () => {
    const s = await serve('simple', { size: 2 * MiB });
    const plain = await serve('simple2', { size: 2 * MiB, noStructured: true });
    const c = await NbdClient.connect({ path: plain.path, exportName: 'x' });
    try {
      expect(c.structuredReplies).toBe(false);
      const [a, b] = await Promise.all([c.read(10, 5000), c.read(MiB, MiB)]);
      expect(a!.equals(expected(10, 5000))).toBe(true);
      expect(b!.equals(expected(MiB, MiB))).toBe(true);
    } finally {
      await c.close();
    }
    const err = await NbdClient.connect({ path: plain.path, exportName: 'x', metaContexts: ['base:allocation'] }).catch((e: unknown) => e);
    expect(isGuestvaultError(err, 'E_NBD_PROTOCOL')).toBe(true);
    await s.close();
  });

  it('rejects a non-NBD peer with E_NBD_PROTOCOL and a silent one with E_NBD_TIMEOUT', async () => {
    const g = await serve('garbage', { size: 0, garbage: true });
    const err = await NbdClient.connect({ path: g.path, exportName: 'x' }).catch((e: unknown) => e);
    expect(isGuestvaultError(err, 'E_NBD_PROTOCOL')).toBe(true);
    expect((err as Error).message).toContain(g.path);

    const silentPath = path.join(dir, 'silent.sock');
    const held: net.Socket[] = [];
    const silent = net.createServer((sock) => held.push(sock));
    await new Promise<void>((resolve) => silent.listen(silentPath, resolve));
    try {
      const t0 = Date.now();
      const err2 = await NbdClient.connect({ path: silentPath, exportName: 'x', timeoutMs: 200 }).catch((e: unknown) => e);
      expect(isGuestvaultError(err2, 'E_NBD_TIMEOUT')).toBe(true);
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      for (const h of held) h.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
