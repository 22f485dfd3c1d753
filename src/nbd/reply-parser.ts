import { GuestvaultError } from '../errors.js';
import * as C from './constants.js';

export interface ReadRequest {
  kind: 'read';
  offset: number;
  length: number;
  buffer: Buffer;
  covered: number;
}
export interface StatusRequest {
  kind: 'status';
  offset: number;
  length: number;
  contextId: number;
  /** (length, flags) pairs for our context, in order. */
  extents: Array<{ length: number; flags: number }> | undefined;
}
export interface OtherRequest {
  kind: 'other';
}
export type PendingRequest = (ReadRequest | StatusRequest | OtherRequest) & {
  describe: string;
  error?: GuestvaultError;
  /** Set once the caller got an answer (timeout); the reply is then consumed and dropped. */
  abandoned: boolean;
};

export interface ReplyHandler<R extends PendingRequest> {
  /** The request a reply's cookie names (throws on an unknown cookie). */
  lookup(cookie: bigint): R;
  /** The server finished its reply to `req`. */
  settle(req: R): void;
}

function errnoName(errno: number): string {
  return C.NBD_ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/** `type` of a simple reply: it always completes its request. */
const SIMPLE = -1;

type Sink = 'magic' | 'simple' | 'structured' | 'offset' | 'data' | 'skip' | 'payload';

/**
 * Parses the server's replies synchronously as bytes arrive from the socket. Read data is copied
 * once, from the socket's buffer straight into the request's destination: no queue, no
 * allocation and no promise per reply, which kept the main thread busy for seconds per GiB.
 * Throws GuestvaultError (E_NBD_PROTOCOL) on a reply that breaks the protocol; the connection is
 * unusable after that.
 */
export class ReplyParser<R extends PendingRequest> {
  private sink: Sink = 'magic';
  /** Bytes the current sink still wants. */
  private want = 4;
  private readonly head = Buffer.alloc(32);
  private filled = 0;
  private payload: Buffer = Buffer.alloc(0);
  private req: R | undefined;
  private flags = 0;
  private type = 0;
  private length = 0;
  /** Destination of the 'data' sink. */
  private target: Buffer | undefined;
  private at = 0;

  constructor(
    private readonly where: string,
    private readonly structuredReplies: boolean,
    private readonly handler: ReplyHandler<R>,
  ) {}

  /**
   * Where the socket's next read should land: straight into the destination of the read data
   * being received (the kernel copies it there and `feed` has nothing to copy), else `scratch`,
   * cut to the header bytes expected so that no read data spills into it.
   */
  nextReadBuffer(scratch: Buffer): Uint8Array {
    switch (this.sink) {
      case 'data':
        return this.target!.subarray(this.at, this.at + this.want);
      case 'magic':
        // A whole structured header plus the offset of an OFFSET_DATA chunk.
        return scratch.subarray(0, C.NBD_STRUCTURED_REPLY_SIZE + 8 - this.filled);
      case 'simple':
      case 'structured':
      case 'offset':
        return scratch.subarray(0, this.want);
      default:
        return scratch;
    }
  }

  feed(buf: Uint8Array): void {
    let pos = 0;
    for (;;) {
      if (this.want > 0) {
        if (pos >= buf.length) return;
        const n = Math.min(this.want, buf.length - pos);
        switch (this.sink) {
          case 'data': {
            const t = this.target!;
            // Read in place (nextReadBuffer): the bytes are already where they belong.
            if (buf.buffer !== t.buffer || buf.byteOffset + pos !== t.byteOffset + this.at) t.set(buf.subarray(pos, pos + n), this.at);
            this.at += n;
            break;
          }
          case 'skip':
            break;
          case 'payload':
            this.payload.set(buf.subarray(pos, pos + n), this.filled);
            this.filled += n;
            break;
          default:
            this.head.set(buf.subarray(pos, pos + n), this.filled);
            this.filled += n;
        }
        this.want -= n;
        pos += n;
        if (this.want > 0) return;
      }
      this.step();
    }
  }

  private expect(sink: Sink, want: number): void {
    this.sink = sink;
    this.want = want;
  }

  private protocol(msg: string): GuestvaultError {
    return new GuestvaultError('E_NBD_PROTOCOL', `NBD ${this.where}: ${msg}`);
  }

  /** The current sink is complete: act on it and choose the next one. */
  private step(): void {
    switch (this.sink) {
      case 'magic': {
        const magic = this.head.readUInt32BE(0);
        if (magic === C.NBD_SIMPLE_REPLY_MAGIC) this.expect('simple', C.NBD_SIMPLE_REPLY_SIZE - 4);
        else if (magic === C.NBD_STRUCTURED_REPLY_MAGIC) this.expect('structured', C.NBD_STRUCTURED_REPLY_SIZE - 4);
        else throw this.protocol(`bad reply magic 0x${magic.toString(16)}`);
        return;
      }
      case 'simple':
        return this.simpleHeader();
      case 'structured':
        return this.structuredHeader();
      case 'offset':
        return this.dataOffset();
      case 'data':
        (this.req as R & ReadRequest).covered += this.at;
        this.target = undefined;
        return this.endChunk();
      case 'skip':
        return this.endChunk();
      case 'payload':
        this.structuredPayload(this.payload.subarray(0, this.length));
        return this.endChunk();
    }
  }

  private simpleHeader(): void {
    const errno = this.head.readUInt32BE(4);
    const req = this.handler.lookup(this.head.readBigUInt64BE(8));
    this.req = req;
    this.type = SIMPLE;
    if (errno !== 0) {
      req.error = new GuestvaultError('E_NBD_IO', `NBD ${this.where}: ${req.describe} failed: ${errnoName(errno)}`);
    } else if (req.kind === 'read') {
      if (this.structuredReplies) throw this.protocol('simple reply with data to a read after structured replies were negotiated');
      if (req.abandoned) return this.expect('skip', req.length);
      this.startData(req, 0, req.length);
      return;
    }
    this.endChunk();
  }

  private structuredHeader(): void {
    this.flags = this.head.readUInt16BE(4);
    this.type = this.head.readUInt16BE(6);
    const req = this.handler.lookup(this.head.readBigUInt64BE(8));
    this.req = req;
    this.length = this.head.readUInt32BE(16);
    // Read data goes straight from the socket into the request's buffer; the rest is small.
    if (this.type === C.NBD_REPLY_TYPE_OFFSET_DATA && req.kind === 'read' && this.length >= 8) {
      this.filled = 0;
      return this.expect('offset', 8);
    }
    if (this.payload.length < this.length) this.payload = Buffer.allocUnsafe(Math.max(this.length, 256));
    this.filled = 0;
    this.expect('payload', this.length);
  }

  private dataOffset(): void {
    const req = this.req as R & ReadRequest;
    const at = Number(this.head.readBigUInt64BE(0));
    const len = this.length - 8;
    if (at < req.offset || at + len > req.offset + req.length) {
      this.bad(`chunk [${at}, +${len}) lies outside the request`);
      return this.expect('skip', len);
    }
    if (req.abandoned) return this.expect('skip', len);
    this.startData(req, at - req.offset, len);
  }

  private startData(req: ReadRequest, at: number, len: number): void {
    this.target = req.buffer.subarray(at, at + len);
    this.at = 0;
    this.expect('data', len);
  }

  private bad(msg: string): void {
    const req = this.req!;
    req.error ??= this.protocol(`${req.describe}: ${msg}`);
  }

  /** One reply chunk is consumed: settle its request if it was the last one. */
  private endChunk(): void {
    const req = this.req!;
    const done = this.type === SIMPLE || (this.flags & C.NBD_REPLY_FLAG_DONE) !== 0;
    this.req = undefined;
    this.filled = 0;
    this.expect('magic', 4);
    if (done) this.handler.settle(req);
  }

  private structuredPayload(payload: Buffer): void {
    const req = this.req!;
    const length = payload.length;
    switch (this.type) {
      case C.NBD_REPLY_TYPE_NONE:
        if ((this.flags & C.NBD_REPLY_FLAG_DONE) === 0) this.bad('NBD_REPLY_TYPE_NONE without the DONE flag');
        return;
      case C.NBD_REPLY_TYPE_OFFSET_DATA:
      case C.NBD_REPLY_TYPE_OFFSET_HOLE: {
        if (req.kind !== 'read') return this.bad(`unexpected data chunk type ${this.type}`);
        const isData = this.type === C.NBD_REPLY_TYPE_OFFSET_DATA;
        if (length < (isData ? 8 : 12)) return this.bad('short data chunk');
        const at = Number(payload.readBigUInt64BE(0));
        const len = isData ? length - 8 : payload.readUInt32BE(8);
        if (at < req.offset || at + len > req.offset + req.length) return this.bad(`chunk [${at}, +${len}) lies outside the request`);
        if (req.abandoned) return;
        if (isData) payload.copy(req.buffer, at - req.offset, 8);
        else req.buffer.fill(0, at - req.offset, at - req.offset + len);
        req.covered += len;
        return;
      }
      case C.NBD_REPLY_TYPE_BLOCK_STATUS: {
        if (req.kind !== 'status') return this.bad('unexpected block status chunk');
        if (length < 12 || (length - 4) % 8 !== 0) return this.bad(`malformed block status chunk of ${length} bytes`);
        if (payload.readUInt32BE(0) !== req.contextId) return; // another negotiated context
        const extents: Array<{ length: number; flags: number }> = [];
        for (let p = 4; p < length; p += 8) extents.push({ length: payload.readUInt32BE(p), flags: payload.readUInt32BE(p + 4) });
        req.extents = extents;
        return;
      }
      default:
        if ((this.type & C.NBD_REPLY_TYPE_FLAG_ERROR) !== 0) {
          const errno = length >= 4 ? payload.readUInt32BE(0) : 0;
          const msgLen = length >= 6 ? payload.readUInt16BE(4) : 0;
          const msg = msgLen > 0 && 6 + msgLen <= length ? `: ${payload.toString('utf8', 6, 6 + msgLen)}` : '';
          const where = this.type === C.NBD_REPLY_TYPE_ERROR_OFFSET && length >= 6 + msgLen + 8 ? ` at offset ${payload.readBigUInt64BE(6 + msgLen)}` : '';
          req.error ??= new GuestvaultError('E_NBD_IO', `NBD ${this.where}: ${req.describe} failed${where}: ${errnoName(errno)}${msg}`);
        } else {
          this.bad(`unknown structured reply chunk type ${this.type}`);
        }
    }
  }
}
