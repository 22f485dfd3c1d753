import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { ChunkPool } from '../../src/datastore/chunk-pool.js';
import { chunkPath } from '../../src/datastore/chunk-store.js';
import { decodeBlob } from '../../src/formats/index.js';

describe('chunk pool without worker threads (small incrementals)', () => {
  const store = mkdtempSync(join(tmpdir(), 'gv-pool-'));
  afterAll(() => rmSync(store, { recursive: true, force: true }));

  it('stores and loads chunks in the calling thread, one at a time, with typed errors', async () => {
    const pool = new ChunkPool(0);
    expect(pool.threads).toBe(0);
    expect(pool.maxInFlight).toBe(1);
    const data = Buffer.concat([randomBytes(1 << 20), Buffer.from('text '.repeat(300_000))]);
    const digest = createHash('sha256').update(data).digest('hex');
    mkdirSync(join(store, '.chunks', digest.slice(0, 4)), { recursive: true });
    await pool.slot();
    const stored = await pool.run({ op: 'store-data', store, data, compress: true });
    expect(stored).toMatchObject({ digest, status: 'new', zero: false, size: data.length });
    expect(decodeBlob(readFileSync(chunkPath(store, digest)), 'chunk', { digest: Buffer.from(digest, 'hex') }).equals(data)).toBe(true);
    await pool.slot();
    expect((await pool.run({ op: 'store-data', store, data, compress: true })).status).toBe('duplicate');
    await pool.slot();
    const loaded = await pool.run({ op: 'load', store, digest, size: data.length });
    expect(Buffer.from(loaded.data!).equals(data)).toBe(true);
    await pool.slot();
    await expect(pool.run({ op: 'load', store, digest: '00'.repeat(32), size: 10 })).rejects.toMatchObject({ code: 'E_CHUNK_MISSING' });
    await pool.close();
  });
});
