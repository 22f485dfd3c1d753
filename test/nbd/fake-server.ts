import net from 'node:net';

/** Byte at `pos` of the fake export. */
export const fakeByte = (pos: number): number => (pos * 7 + (pos >> 16)) & 0xff;

export interface FakeServerOptions {
  size: number;
  /** Refuse NBD_OPT_STRUCTURED_REPLY (forces simple replies). */
  noStructured?: boolean;
  /** Advertise this maximum block size in NBD_INFO_BLOCK_SIZE. */
  maxBlock?: number;
  /** Reads starting inside [from, to) fail with an EIO error chunk. */
  badRange?: [number, number];
  /** Send garbage instead of a greeting. */
  garbage?: boolean;
}

export interface FakeServer {
  path: string;
  /** Every request seen: [type, offset, length]. */
  requests: Array<[number, number, number]>;
  close(): Promise<void>;
}

const IHAVEOPT = 0x49484156454f5054n;
const BASE_CTX_ID = 7;
const HALF_MIB = 512 * 1024;

function optReply(option: number, type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(20);
  h.writeBigUInt64BE(0x3e889045565a9n, 0);
  h.writeUInt32BE(option, 8);
  h.writeUInt32BE(type, 12);
  h.writeUInt32BE(data.length, 16);
  return Buffer.concat([h, data]);
}

function chunk(flags: number, type: number, cookie: Buffer, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt32BE(0x668e33ef, 0);
  h.writeUInt16BE(flags, 4);
  h.writeUInt16BE(type, 6);
  cookie.copy(h, 8);
  h.writeUInt32BE(payload.length, 16);
  return Buffer.concat([h, payload]);
}

function data(offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = fakeByte(offset + i);
  return b;
}

/**
 * A minimal in-process NBD server for protocol corners qemu-nbd does not show: error chunks,
 * out-of-order and split replies, short block status answers, simple replies, block size limits.
 */
export async function startFakeServer(socketPath: string, opts: FakeServerOptions): Promise<FakeServer> {
  const requests: FakeServer['requests'] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    if (opts.garbage) {
      sock.end(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
      return;
    }
    const hello = Buffer.alloc(18);
    hello.writeBigUInt64BE(0x4e42444d41474943n, 0);
    hello.writeBigUInt64BE(IHAVEOPT, 8);
    hello.writeUInt16BE(3, 16);
    sock.write(hello);
    let buf = Buffer.alloc(0);
    let phase: 'flags' | 'options' | 'transmission' = 'flags';
    let structured = false;
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const out: Buffer[][] = [];
      for (;;) {
        if (phase === 'flags') {
          if (buf.length < 4) break;
          buf = buf.subarray(4);
          phase = 'options';
        } else if (phase === 'options') {
          if (buf.length < 16) break;
          const len = buf.readUInt32BE(12);
          if (buf.length < 16 + len) break;
          const option = buf.readUInt32BE(8);
          const body = buf.subarray(16, 16 + len);
          buf = buf.subarray(16 + len);
          if (option === 8) {
            structured = !opts.noStructured;
            sock.write(optReply(option, structured ? 1 : 0x80000001));
          } else if (option === 10) {
            const nameLen = body.readUInt32BE(0);
            let p = 4 + nameLen;
            const n = body.readUInt32BE(p);
            p += 4;
            for (let i = 0; i < n; i++) {
              const l = body.readUInt32BE(p);
              const q = body.toString('utf8', p + 4, p + 4 + l);
              p += 4 + l;
              if (q === 'base:allocation') {
                const r = Buffer.alloc(4);
                r.writeUInt32BE(BASE_CTX_ID);
                sock.write(optReply(option, 4, Buffer.concat([r, Buffer.from(q)])));
              }
            }
            sock.write(optReply(option, 1));
          } else if (option === 7) {
            const info = Buffer.alloc(12);
            info.writeUInt16BE(0, 0);
            info.writeBigUInt64BE(BigInt(opts.size), 2);
            info.writeUInt16BE(1 | 2, 10);
            sock.write(optReply(option, 3, info));
            if (opts.maxBlock) {
              const bs = Buffer.alloc(14);
              bs.writeUInt16BE(3, 0);
              bs.writeUInt32BE(1, 2);
              bs.writeUInt32BE(4096, 6);
              bs.writeUInt32BE(opts.maxBlock, 10);
              sock.write(optReply(option, 3, bs));
            }
            sock.write(optReply(option, 1));
            phase = 'transmission';
          } else {
            sock.write(optReply(option, 0x80000001));
          }
        } else {
          if (buf.length < 28) break;
          const type = buf.readUInt16BE(6);
          const cookie = Buffer.from(buf.subarray(8, 16));
          const offset = Number(buf.readBigUInt64BE(16));
          const length = buf.readUInt32BE(24);
          buf = buf.subarray(28);
          requests.push([type, offset, length]);
          const group: Buffer[] = [];
          out.push(group);
          if (type === 2) {
            sock.end();
            return;
          }
          if (type === 0 && !structured) {
            const h = Buffer.alloc(16);
            h.writeUInt32BE(0x67446698, 0);
            cookie.copy(h, 8);
            group.push(Buffer.concat([h, data(offset, length)]));
          } else if (type === 0 && opts.badRange && offset >= opts.badRange[0] && offset < opts.badRange[1]) {
            const msg = Buffer.from('injected failure');
            const p = Buffer.alloc(6);
            p.writeUInt32BE(5, 0);
            p.writeUInt16BE(msg.length, 4);
            group.push(chunk(1, 0x8001, cookie, Buffer.concat([p, msg])));
          } else if (type === 0) {
            // Two data chunks, second half first, then a NONE chunk with DONE.
            const half = Math.floor(length / 2);
            for (const [o, l] of [
              [offset + half, length - half],
              [offset, half],
            ] as const) {
              if (l === 0) continue;
              const p = Buffer.alloc(8);
              p.writeBigUInt64BE(BigInt(o));
              group.push(chunk(0, 1, cookie, Buffer.concat([p, data(o, l)])));
            }
            group.push(chunk(1, 0, cookie, Buffer.alloc(0)));
          } else if (type === 7) {
            // At most two extents per reply, each up to the next 512 KiB boundary.
            const ext: number[] = [];
            let pos = offset;
            for (let i = 0; i < 2 && pos < offset + length; i++) {
              const next = Math.min((Math.floor(pos / HALF_MIB) + 1) * HALF_MIB, opts.size);
              ext.push(next - pos, Math.floor(pos / HALF_MIB) % 2 ? 3 : 0);
              pos = next;
            }
            const p = Buffer.alloc(4 + 4 * ext.length);
            p.writeUInt32BE(BASE_CTX_ID, 0);
            ext.forEach((v, i) => p.writeUInt32BE(v, 4 + 4 * i));
            group.push(chunk(1, 5, cookie, p));
          }
        }
      }
      // Answer a batch of requests in reverse order to exercise cookie matching.
      if (out.length > 0) sock.write(Buffer.concat(out.reverse().flat()));
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    path: socketPath,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
