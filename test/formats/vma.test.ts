import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isGuestvaultError } from '../../src/errors.js';
import {
  encodeExtentHeader,
  encodeVmaHeader,
  forEachBlockRun,
  formatUuid,
  VmaParser,
  VmaWriter,
  VMA_CLUSTER_SIZE,
  type VmaExtent,
  type VmaHeader,
} from '../../src/formats/vma/index.js';

const FIXTURE = '/work/shared/fixtures/vma';
const expected = JSON.parse(readFileSync(`${FIXTURE}/test.vma.expected.json`, 'utf8'));

/** Parses `bytes` fed in pieces of the given sizes (cycled), rebuilding each device's data. */
function parse(bytes: Buffer, pieces = [bytes.length]) {
  let header: VmaHeader | undefined;
  const extents: Array<Omit<VmaExtent, 'blocks'> & { blockBytes: number }> = [];
  const disks = new Map<number, Buffer>();
  const parser = new VmaParser({
    header: (h) => {
      header = h;
      for (const d of h.devices) disks.set(d.id, Buffer.alloc(Math.min(d.size, 64 * 1024 * 1024)));
    },
    extent: (e) => {
      extents.push({ offset: e.offset, infos: e.infos, blockBytes: e.blocks.length });
      forEachBlockRun(e, (devId, at, data) => {
        const disk = disks.get(devId)!;
        if (at < disk.length) data.copy(disk, at, 0, Math.min(data.length, disk.length - at));
      });
    },
  });
  let pos = 0;
  for (let i = 0; pos < bytes.length; i++) {
    const n = pieces[i % pieces.length]!;
    parser.feed(bytes.subarray(pos, pos + n));
    pos += n;
  }
  return { header: header!, extents, disks, end: () => parser.end() };
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

describe('VMA reader on a real archive written by Proxmox VE (truncated after two extents)', () => {
  const bytes = gunzipSync(readFileSync(`${FIXTURE}/test.vma.gz`));
  const p = expected.parsed;
  const src = expected.asserted_by_source;

  it('reads the header: version, uuid, ctime, configs and devices', () => {
    expect(sha256(bytes)).toBe(expected.sha256_decompressed);
    const { header } = parse(bytes, [7, 4096, 1]);
    expect(header.version).toBe(p.version);
    expect(formatUuid(header.uuid)).toBe(p.uuid);
    expect(header.ctime).toBe(p.ctime);
    expect(header.headerSize).toBe(p.header_size);
    expect(header.configs.map((c) => [c.name, c.data.length])).toEqual(Object.entries(p.configs));
    expect(header.configs[0]!.data.toString('utf8')).toMatch(/^[a-z]/m);
    expect(header.devices).toEqual(Object.entries(p.devices).map(([id, d]) => ({ id: Number(id), ...(d as { name: string; size: number }) })));
  });

  it('reads both extents with their cluster masks and data, and says what is missing', () => {
    const { extents, disks, end } = parse(bytes, [65536, 333, 12345]);
    expect(extents.map((e) => ({ offset: e.offset, block_count: e.blockBytes / 4096, clusters: e.infos.length }))).toEqual(p.extents);
    const clusters = new Map(extents.flatMap((e) => e.infos.map((i) => [i.cluster, i.mask] as const)));
    for (const [cluster, mask] of src['iter_clusters(dev=1, 0..23) [cluster, mask, file_offset_of_data]'] as Array<[number, number, number]>) {
      expect(clusters.get(cluster)).toBe(mask);
    }
    const disk = disks.get(1)!;
    expect(sha256(disk.subarray(0, 65536))).toBe(src['sha256(device[0:65536])']);
    expect(disk.subarray(65536, 65536 * 16).every((b) => b === 0)).toBe(true);
    expect(sha256(disk.subarray(65536 * 16, 65536 * 23))).toBe(src['sha256(device[65536*16:65536*23])']);
    const [report] = end();
    expect(report!.clusters).toBe(10737418240 / VMA_CLUSTER_SIZE);
    expect(report!.present).toBe(116);
    // Proxmox writes clusters out of order: 0..22 came, 23 is the first that did not.
    expect(report!.firstMissing).toBe(23);
  });

  it('a cut inside an extent fails with the byte offset and the extent', () => {
    const { end } = parse(bytes.subarray(0, 100_000));
    expect(() => end()).toThrow(/truncated at byte 100000: inside the extent 2 starting at byte 78848/);
  });

  it('a flipped bit in the header or an extent header is found', () => {
    const badHead = Buffer.from(bytes);
    badHead[200] ^= 1;
    expect(() => parse(badHead)).toThrow(/VMA header: MD5 checksum mismatch/);
    const badExtent = Buffer.from(bytes);
    badExtent[78848 + 100] ^= 1;
    expect(() => parse(badExtent)).toThrow(/extent 2 at byte 78848: extent header MD5 checksum mismatch/);
  });

  it('something that is not VMA is refused as such', () => {
    let err: unknown;
    try {
      parse(Buffer.from('#!/bin/sh\necho hello, this is not a backup at all, but long enough\n')).end();
    } catch (e) {
      err = e;
    }
    expect(isGuestvaultError(err, 'E_VMA_FORMAT')).toBe(true);
    expect((err as Error).message).toContain('not a VMA archive');
  });
});

describe('VMA writer', () => {
  const uuid = randomBytes(16);
  const conf = { name: 'qemu-server.conf', data: Buffer.from('memory: 512\nscsi0: local:100/vm-100-disk-0.raw,size=5M\n#qmdump#map:scsi0:drive-scsi0:local:raw:\n') };

  async function write(devices: Array<{ id: number; name: string; size: number; data: Buffer }>, order: 'forward' | 'shuffled') {
    const out: Buffer[] = [];
    const w = new VmaWriter({ uuid, ctime: 1_700_000_000, configs: [conf], devices }, async (b) => {
      out.push(Buffer.from(b));
    });
    const jobs = devices.flatMap((d) => Array.from({ length: Math.ceil(d.size / VMA_CLUSTER_SIZE) }, (_, c) => [d, c] as const));
    if (order === 'shuffled') jobs.sort(() => Math.random() - 0.5);
    const scratch = Buffer.alloc(VMA_CLUSTER_SIZE);
    for (const [d, c] of jobs) {
      const piece = d.data.subarray(c * VMA_CLUSTER_SIZE, (c + 1) * VMA_CLUSTER_SIZE);
      if (piece.every((b) => b === 0) && c % 2 === 0) await w.writeZeroClusters(d.id, c, c + 1);
      else {
        // The writer copies: the caller's buffer is reused at once.
        piece.copy(scratch);
        await w.writeCluster(d.id, c, scratch.subarray(0, piece.length));
        scratch.fill(0xa5);
      }
    }
    await w.finish();
    return { bytes: Buffer.concat(out), writer: w };
  }

  function disk(size: number): Buffer {
    const b = Buffer.alloc(size);
    for (let at = 0; at < size; at += 4096) {
      const kind = (at / 4096) % 5;
      if (kind === 1 || kind === 3) randomBytes(Math.min(4096, size - at)).copy(b, at);
      if (kind === 4) b.fill('text block ', at, Math.min(size, at + 2000));
    }
    if (size > 7 * VMA_CLUSTER_SIZE) b.fill(0, 3 * VMA_CLUSTER_SIZE, 7 * VMA_CLUSTER_SIZE); // whole zero clusters
    return b;
  }

  it('round-trips two devices (one of an odd size) written out of order, storing no zero block', async () => {
    const a = { id: 1, name: 'drive-scsi0', size: 5 * 1024 * 1024, data: disk(5 * 1024 * 1024) };
    const b = { id: 2, name: 'drive-virtio1', size: 200_003, data: disk(200_003) };
    const { bytes, writer } = await write([a, b], 'shuffled');
    expect(writer.bytesWritten).toBe(bytes.length);
    const { header, extents, disks, end } = parse(bytes, [1000, 70_000, 3]);
    expect(header.uuid.equals(uuid)).toBe(true);
    expect(header.configs).toEqual([conf]);
    expect(header.devices).toEqual([{ id: 1, name: 'drive-scsi0', size: a.size }, { id: 2, name: 'drive-virtio1', size: b.size }]);
    expect(disks.get(1)!.equals(a.data)).toBe(true);
    expect(disks.get(2)!.equals(b.data)).toBe(true);
    const clusters = 80 + 4;
    expect(extents).toHaveLength(Math.ceil(clusters / 58));
    expect(extents.every((e) => e.infos.length <= 58)).toBe(true);
    const storedBlocks = extents.reduce((n, e) => n + e.blockBytes / 4096, 0);
    const nonZero = (d: Buffer) => Array.from({ length: Math.ceil(d.length / 4096) }, (_, i) => d.subarray(i * 4096, (i + 1) * 4096)).filter((x) => x.some((v) => v !== 0)).length;
    expect(storedBlocks).toBe(nonZero(a.data) + nonZero(b.data));
    expect(end().map((r) => [r.present, r.clusters, r.firstMissing])).toEqual([
      [80, 80, undefined],
      [4, 4, undefined],
    ]);
  });

  it('hands data over as it arrives (data handler, writable/commit in small pieces) exactly as whole extents would', async () => {
    const a = { id: 1, name: 'drive-scsi0', size: 5 * 1024 * 1024, data: disk(5 * 1024 * 1024) };
    const b = { id: 2, name: 'drive-virtio1', size: 200_003, data: disk(200_003) };
    const { bytes } = await write([a, b], 'shuffled');
    const got = new Map([[1, Buffer.alloc(a.size + 4096)], [2, Buffer.alloc(b.size + 4096)]]);
    let calls = 0;
    let extentsSeen = 0;
    const p = new VmaParser({
      header: () => undefined,
      extent: () => {
        extentsSeen++;
      },
      data: (devId, at, data) => {
        calls++;
        data.copy(got.get(devId)!, at);
      },
    });
    // Fill the parser's own buffer in odd-sized pieces, as a reader that decompresses into it would.
    let pos = 0;
    for (let step = 1; pos < bytes.length; step = (step * 7919) % 300_001) {
      const target = p.writable();
      expect(target.length).toBeGreaterThan(0);
      expect(target.length).toBeLessThanOrEqual(Math.max(256 * 1024, 512));
      const n = bytes.copy(target, 0, pos, pos + Math.min(target.length, step));
      pos += n;
      p.commit(n);
    }
    expect(p.end().every((r) => r.firstMissing === undefined)).toBe(true);
    expect(got.get(1)!.subarray(0, a.size).equals(a.data)).toBe(true);
    expect(got.get(2)!.subarray(0, b.size).equals(b.data)).toBe(true);
    expect(extentsSeen).toBe(2);
    expect(calls).toBeGreaterThan(extentsSeen);
    // headerOnly: stops after the header and wants nothing more.
    const h = new VmaParser({ header: () => undefined, extent: () => expect.unreachable() }, { headerOnly: true });
    h.feed(bytes);
    expect(h.header!.devices).toHaveLength(2);
    expect(h.writable().length).toBe(0);
  });

  it('with data in flight: the buffers go round, none is reused before its data is done with, and a failing write is reported', async () => {
    // 20 MiB: 6 extents, so three buffers go round twice.
    const a = { id: 1, name: 'drive-scsi0', size: 20 * 1024 * 1024, data: disk(20 * 1024 * 1024) };
    const { bytes } = await write([a], 'forward');
    // Slow writes that take their data only when they finish: a buffer reused too early would
    // have been overwritten with a later extent's data by then.
    const run = async (inFlight: number, failAt?: number) => {
      const got = Buffer.alloc(a.size + 4096);
      let open = 0;
      let most = 0;
      let calls = 0;
      const p = new VmaParser({
        header: () => undefined,
        extent: () => undefined,
        data: (_devId, at, data) => {
          const call = ++calls;
          open++;
          most = Math.max(most, open);
          return new Promise<void>((resolve, reject) => setTimeout(() => {
            open--;
            if (call === failAt) return reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
            data.copy(got, at);
            resolve();
          }, 2));
        },
      }, { inFlight });
      let pos = 0;
      while (pos < bytes.length) {
        const wait = p.ready();
        if (wait) await wait;
        const target = p.writable();
        const n = bytes.copy(target, 0, pos, pos + Math.min(target.length, 100_000));
        pos += n;
        p.commit(n);
      }
      await p.drain();
      expect(open).toBe(0);
      expect(p.end().every((r) => r.firstMissing === undefined)).toBe(true);
      return { got, most, calls };
    };
    for (const inFlight of [1, 3]) {
      const { got, most } = await run(inFlight);
      expect(got.subarray(0, a.size).equals(a.data), `inFlight ${inFlight}`).toBe(true);
      // One extent's pieces at a time with one buffer; pieces of several extents with three.
      if (inFlight === 3) expect(most).toBeGreaterThan((await run(1)).most);
    }
    // Calling writable() while the buffer is still in use is a programming error, said at once.
    const q = new VmaParser({ header: () => undefined, extent: () => undefined, data: () => new Promise(() => undefined) }, { inFlight: 1 });
    expect(() => q.feed(bytes)).toThrow(/await ready\(\) before writable\(\)/);
    // A failing write: ready() or drain() rejects with its error; no unhandled rejection.
    await expect(run(3, 4)).rejects.toThrow(/ENOSPC/);
  });

  it('a failing sink (disk full) fails the next write or finish, and is never an unhandled rejection', async () => {
    let calls = 0;
    const w = new VmaWriter({ uuid, ctime: 1, configs: [conf], devices: [{ id: 1, name: 'drive-scsi0', size: 8 * 1024 * 1024 }] }, async () => {
      calls++;
      if (calls === 2) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    const data = randomBytes(VMA_CLUSTER_SIZE);
    let failure: unknown;
    try {
      for (let c = 0; c < 128; c++) {
        await w.writeCluster(1, c, data);
        // Let the rejected write sit unobserved for a while, as a slow disk would.
        if (c === 60) await new Promise((r) => setTimeout(r, 20));
      }
      await w.finish();
    } catch (err) {
      failure = err;
    }
    expect((failure as NodeJS.ErrnoException).code).toBe('ENOSPC');
  });

  it('refuses a cluster written twice, a cluster outside the device, and finishing with clusters missing', async () => {
    const w = new VmaWriter({ uuid, ctime: 0, configs: [], devices: [{ id: 1, name: 'd', size: 3 * VMA_CLUSTER_SIZE }] }, async () => undefined);
    await w.writeCluster(1, 0, Buffer.alloc(VMA_CLUSTER_SIZE, 1));
    await expect(w.writeCluster(1, 0, Buffer.alloc(VMA_CLUSTER_SIZE))).rejects.toThrow(/written twice/);
    await expect(w.writeCluster(1, 3, Buffer.alloc(VMA_CLUSTER_SIZE))).rejects.toThrow(/outside device d/);
    await expect(w.finish()).rejects.toThrow(/device d has 2 of 3 clusters not written/);
  });

  it('the reader refuses a cluster that appears twice', () => {
    const header = encodeVmaHeader({ uuid, ctime: 0, configs: [], devices: [{ id: 1, name: 'd', size: 4 * VMA_CLUSTER_SIZE }] });
    const e1 = encodeExtentHeader(uuid, [{ devId: 1, cluster: 2, mask: 0 }]);
    const e2 = encodeExtentHeader(uuid, [{ devId: 1, cluster: 2, mask: 0 }]);
    expect(() => parse(Buffer.concat([header, e1, e2]))).toThrow(/cluster 2 of d appears twice/);
  });
});
