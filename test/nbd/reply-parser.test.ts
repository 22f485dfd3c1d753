import { describe, expect, it } from 'vitest';
import { isGuestvaultError } from '../../src/errors.js';
import * as C from '../../src/nbd/constants.js';
import { ReplyParser, type PendingRequest } from '../../src/nbd/reply-parser.js';

type Req = PendingRequest & { cookie: bigint; settled: number };

function structured(cookie: bigint, type: number, flags: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt32BE(C.NBD_STRUCTURED_REPLY_MAGIC, 0);
  h.writeUInt16BE(flags, 4);
  h.writeUInt16BE(type, 6);
  h.writeBigUInt64BE(cookie, 8);
  h.writeUInt32BE(payload.length, 16);
  return Buffer.concat([h, payload]);
}

function simple(cookie: bigint, errno: number, data = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32BE(C.NBD_SIMPLE_REPLY_MAGIC, 0);
  h.writeUInt32BE(errno, 4);
  h.writeBigUInt64BE(cookie, 8);
  return Buffer.concat([h, data]);
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

const DONE = C.NBD_REPLY_FLAG_DONE;

/** Requests and the byte stream a server might answer them with (out of order, split). */
function scenario() {
  const data = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7 + 3) & 0xff));
  const reqs: Req[] = [
    { kind: 'read', offset: 1000, length: 3000, buffer: Buffer.alloc(3000, 0xee), covered: 0, describe: 'read A', abandoned: false, cookie: 1n, settled: 0 },
    { kind: 'status', offset: 0, length: 8192, contextId: 5, extents: undefined, describe: 'status B', abandoned: false, cookie: 2n, settled: 0 },
    { kind: 'read', offset: 0, length: 512, buffer: Buffer.alloc(512, 0xee), covered: 0, describe: 'read C', abandoned: false, cookie: 3n, settled: 0 },
    { kind: 'other', describe: 'flush D', abandoned: false, cookie: 4n, settled: 0 },
  ];
  const hole = Buffer.concat([u64(2000), Buffer.from([0, 0, 0x03, 0xe8])]); // 1000 zero bytes at 2000
  const status = Buffer.alloc(4 + 16);
  status.writeUInt32BE(7, 0); // another context: ignored
  const ours = Buffer.alloc(4 + 16);
  ours.writeUInt32BE(5, 0);
  ours.writeUInt32BE(4096, 4);
  ours.writeUInt32BE(0, 8);
  ours.writeUInt32BE(4096, 12);
  ours.writeUInt32BE(3, 16);
  const err = Buffer.concat([Buffer.from([0, 0, 0, 5, 0, 4]), Buffer.from('oops')]);
  const stream = Buffer.concat([
    structured(1n, C.NBD_REPLY_TYPE_OFFSET_DATA, 0, Buffer.concat([u64(1000), data.subarray(0, 1000)])),
    structured(2n, C.NBD_REPLY_TYPE_BLOCK_STATUS, 0, status),
    structured(3n, C.NBD_REPLY_TYPE_ERROR, DONE, err),
    structured(1n, C.NBD_REPLY_TYPE_OFFSET_HOLE, 0, hole),
    structured(2n, C.NBD_REPLY_TYPE_BLOCK_STATUS, DONE, ours),
    simple(4n, 0),
    structured(1n, C.NBD_REPLY_TYPE_OFFSET_DATA, DONE, Buffer.concat([u64(3000), data.subarray(2000, 3000)])),
  ]);
  const want = Buffer.concat([data.subarray(0, 1000), Buffer.alloc(1000), data.subarray(2000, 3000)]);
  return { reqs, stream, want };
}

function parserFor(reqs: Req[], structuredReplies = true) {
  return new ReplyParser<Req>('test', structuredReplies, {
    lookup: (cookie) => {
      const r = reqs.find((q) => q.cookie === cookie);
      if (!r) throw new Error(`unknown cookie ${cookie}`);
      return r;
    },
    settle: (r) => {
      r.settled++;
    },
  });
}

describe('ReplyParser', () => {
  it('gives the same result however the stream is split (every split point, and byte by byte)', () => {
    const whole = scenario();
    const splits = [...Array.from({ length: whole.stream.length + 1 }, (_, i) => [i]), Array.from({ length: whole.stream.length }, (_, i) => i)];
    for (const cuts of splits) {
      const { reqs, stream, want } = scenario();
      const p = parserFor(reqs);
      let prev = 0;
      for (const c of [...cuts, stream.length]) {
        p.feed(stream.subarray(prev, c));
        prev = c;
      }
      const [a, b, c, d] = reqs as [Req & { kind: 'read' }, Req & { kind: 'status' }, Req, Req];
      expect(a.buffer.equals(want)).toBe(true);
      expect(a.covered).toBe(3000);
      expect(b.extents).toEqual([{ length: 4096, flags: 0 }, { length: 4096, flags: 3 }]);
      expect(c.error?.message).toContain('EIO: oops');
      expect(isGuestvaultError(c.error, 'E_NBD_IO')).toBe(true);
      expect([a.settled, b.settled, c.settled, d.settled]).toEqual([1, 1, 1, 1]);
    }
  });

  it('reads into the buffers it asks for (as the socket does): data lands in place, headers never swallow data', () => {
    const { reqs, stream, want } = scenario();
    const p = parserFor(reqs);
    const scratch = Buffer.alloc(64);
    let pos = 0;
    let direct = 0;
    while (pos < stream.length) {
      const into = p.nextReadBuffer(scratch);
      expect(into.length).toBeGreaterThan(0);
      const n = stream.copy(into, 0, pos, Math.min(stream.length, pos + into.length));
      if (into.buffer === (reqs[0] as Req & { kind: 'read' }).buffer.buffer) direct += n;
      p.feed(into.subarray(0, n));
      pos += n;
    }
    const a = reqs[0] as Req & { kind: 'read' };
    expect(a.buffer.equals(want)).toBe(true);
    expect(direct).toBe(2000); // both data chunks went straight into the request's buffer
    expect(reqs.map((r) => r.settled)).toEqual([1, 1, 1, 1]);
  });

  it('reads simple replies with data when structured replies were not negotiated', () => {
    const buf = Buffer.alloc(4);
    const req: Req = { kind: 'read', offset: 0, length: 4, buffer: buf, covered: 0, describe: 'r', abandoned: false, cookie: 9n, settled: 0 };
    const p = parserFor([req], false);
    const s = simple(9n, 0, Buffer.from([1, 2, 3, 4]));
    for (const byte of s) p.feed(Buffer.from([byte]));
    expect([...buf]).toEqual([1, 2, 3, 4]);
    expect(req.settled).toBe(1);
  });

  it('drops the data of an abandoned read instead of writing into its (maybe reused) buffer', () => {
    const buf = Buffer.alloc(4, 0xaa);
    const req: Req = { kind: 'read', offset: 0, length: 4, buffer: buf, covered: 0, describe: 'r', abandoned: true, cookie: 1n, settled: 0 };
    const p = parserFor([req]);
    p.feed(structured(1n, C.NBD_REPLY_TYPE_OFFSET_DATA, DONE, Buffer.concat([u64(0), Buffer.from([1, 2, 3, 4])])));
    expect([...buf]).toEqual([0xaa, 0xaa, 0xaa, 0xaa]);
    expect(req.settled).toBe(1);
  });

  it('marks a data chunk outside its request as a protocol error and stays in step', () => {
    const { reqs } = scenario();
    const p = parserFor(reqs);
    p.feed(structured(3n, C.NBD_REPLY_TYPE_OFFSET_DATA, DONE, Buffer.concat([u64(600), Buffer.alloc(10)])));
    p.feed(simple(4n, 0));
    expect(isGuestvaultError(reqs[2]!.error, 'E_NBD_PROTOCOL')).toBe(true);
    expect(reqs[2]!.error!.message).toContain('outside the request');
    expect(reqs[3]!.settled).toBe(1);
  });

  it('throws E_NBD_PROTOCOL on a bad magic', () => {
    const p = parserFor([]);
    let err: unknown;
    try {
      p.feed(Buffer.from([1, 2, 3, 4, 5]));
    } catch (e) {
      err = e;
    }
    expect(isGuestvaultError(err, 'E_NBD_PROTOCOL')).toBe(true);
    expect((err as Error).message).toContain('bad reply magic 0x1020304');
  });
});
