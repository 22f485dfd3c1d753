import { GuestvaultError } from '../errors.js';
import type { ByteQueue } from './byte-queue.js';
import * as C from './constants.js';

/** What the handshake learned about the export. */
export interface NegotiatedExport {
  size: number;
  transmissionFlags: number;
  structuredReplies: boolean;
  /** Metadata context name → id the server assigned. */
  contexts: Map<string, number>;
  blockSize?: { minimum: number; preferred: number; maximum: number };
}

interface OptionReply {
  type: number;
  data: Buffer;
}

/** Names of option error replies, for messages. */
const REP_ERR_NAMES: Record<number, string> = {
  [C.NBD_REP_ERR_UNSUP]: 'NBD_REP_ERR_UNSUP (option not supported)',
  [C.NBD_REP_ERR_POLICY]: 'NBD_REP_ERR_POLICY (forbidden by server policy)',
  [C.NBD_REP_ERR_INVALID]: 'NBD_REP_ERR_INVALID (invalid request)',
  [C.NBD_REP_ERR_PLATFORM]: 'NBD_REP_ERR_PLATFORM (not supported on this platform)',
  [C.NBD_REP_ERR_TLS_REQD]: 'NBD_REP_ERR_TLS_REQD (TLS required; this client does not do TLS)',
  [C.NBD_REP_ERR_UNKNOWN]: 'NBD_REP_ERR_UNKNOWN (export not available)',
  [C.NBD_REP_ERR_SHUTDOWN]: 'NBD_REP_ERR_SHUTDOWN (server is shutting down)',
  [C.NBD_REP_ERR_BLOCK_SIZE_REQD]: 'NBD_REP_ERR_BLOCK_SIZE_REQD (block size constraints required)',
  [C.NBD_REP_ERR_TOO_BIG]: 'NBD_REP_ERR_TOO_BIG (request too big)',
  [C.NBD_REP_ERR_EXT_HEADER_REQD]: 'NBD_REP_ERR_EXT_HEADER_REQD (extended headers required)',
};

function isError(type: number): boolean {
  return (type & C.NBD_REP_FLAG_ERROR) !== 0;
}

function describeError(reply: OptionReply): string {
  const name = REP_ERR_NAMES[reply.type] ?? `error reply 0x${reply.type.toString(16)}`;
  const text = reply.data.length > 0 ? `: ${reply.data.toString('utf8')}` : '';
  return `${name}${text}`;
}

function u32String(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

/**
 * Runs the fixed newstyle handshake: NBD_OPT_STRUCTURED_REPLY, NBD_OPT_SET_META_CONTEXT (if asked),
 * NBD_OPT_GO (falling back to NBD_OPT_EXPORT_NAME on servers without it).
 */
export async function negotiate(
  queue: ByteQueue,
  write: (b: Buffer) => void,
  where: string,
  exportName: string,
  metaContexts: readonly string[],
): Promise<NegotiatedExport> {
  const exportLabel = `export '${exportName}' on ${where}`;
  const protocolError = (msg: string) => new GuestvaultError('E_NBD_PROTOCOL', `NBD ${where}: ${msg}`);

  const greeting = await queue.readExact(18);
  if (greeting.readBigUInt64BE(0) !== C.NBD_MAGIC) {
    throw protocolError('not an NBD server (no NBDMAGIC in the greeting)');
  }
  const second = greeting.readBigUInt64BE(8);
  if (second === C.NBD_CLISERV_MAGIC) throw protocolError('server uses the oldstyle handshake, which is not supported');
  if (second !== C.NBD_IHAVEOPT) throw protocolError('unknown handshake magic (expected IHAVEOPT)');
  const handshakeFlags = greeting.readUInt16BE(16);
  if ((handshakeFlags & C.NBD_FLAG_FIXED_NEWSTYLE) === 0) {
    throw protocolError('server does not support fixed newstyle negotiation');
  }
  const noZeroes = (handshakeFlags & C.NBD_FLAG_NO_ZEROES) !== 0;
  const clientFlags = Buffer.alloc(4);
  clientFlags.writeUInt32BE(C.NBD_FLAG_C_FIXED_NEWSTYLE | (noZeroes ? C.NBD_FLAG_C_NO_ZEROES : 0));
  write(clientFlags);

  const sendOption = (option: number, data: Buffer) => {
    const head = Buffer.alloc(16);
    head.writeBigUInt64BE(C.NBD_IHAVEOPT, 0);
    head.writeUInt32BE(option, 8);
    head.writeUInt32BE(data.length, 12);
    write(Buffer.concat([head, data]));
  };
  const readReply = async (option: number): Promise<OptionReply> => {
    const head = await queue.readExact(20);
    if (head.readBigUInt64BE(0) !== C.NBD_OPT_REPLY_MAGIC) throw protocolError('bad option reply magic');
    const echoed = head.readUInt32BE(8);
    if (echoed !== option) throw protocolError(`option reply for option ${echoed}, expected ${option}`);
    const type = head.readUInt32BE(12);
    const length = head.readUInt32BE(16);
    if (length > 64 * 1024 * 1024) throw protocolError(`option reply of ${length} bytes is too large`);
    const data = await queue.readExact(length);
    return { type, data };
  };

  // Structured replies: needed for block status and for hole-aware reads.
  sendOption(C.NBD_OPT_STRUCTURED_REPLY, Buffer.alloc(0));
  const sr = await readReply(C.NBD_OPT_STRUCTURED_REPLY);
  let structuredReplies: boolean;
  if (sr.type === C.NBD_REP_ACK) structuredReplies = true;
  else if (isError(sr.type)) structuredReplies = false;
  else throw protocolError(`unexpected reply type ${sr.type} to NBD_OPT_STRUCTURED_REPLY`);

  const contexts = new Map<string, number>();
  if (metaContexts.length > 0) {
    if (!structuredReplies) {
      throw protocolError(`server refused structured replies (${describeError(sr)}), so block status is unavailable`);
    }
    const count = Buffer.alloc(4);
    count.writeUInt32BE(metaContexts.length);
    sendOption(C.NBD_OPT_SET_META_CONTEXT, Buffer.concat([u32String(exportName), count, ...metaContexts.map(u32String)]));
    for (;;) {
      const r = await readReply(C.NBD_OPT_SET_META_CONTEXT);
      if (r.type === C.NBD_REP_ACK) break;
      if (r.type === C.NBD_REP_META_CONTEXT) {
        if (r.data.length < 4) throw protocolError('short NBD_REP_META_CONTEXT reply');
        contexts.set(r.data.toString('utf8', 4), r.data.readUInt32BE(0));
        continue;
      }
      if (isError(r.type)) {
        const code = r.type === C.NBD_REP_ERR_UNKNOWN || r.type === C.NBD_REP_ERR_POLICY ? 'E_NBD_EXPORT' : 'E_NBD_PROTOCOL';
        throw new GuestvaultError(code, `NBD ${exportLabel}: selecting metadata contexts failed: ${describeError(r)}`);
      }
      throw protocolError(`unexpected reply type ${r.type} to NBD_OPT_SET_META_CONTEXT`);
    }
    const missing = metaContexts.filter((m) => !contexts.has(m));
    if (missing.length > 0) {
      throw new GuestvaultError(
        'E_NBD_CONTEXT',
        `NBD ${exportLabel}: the server does not offer metadata context(s) ${missing.map((m) => `'${m}'`).join(', ')}` +
          ` (offered: ${[...contexts.keys()].join(', ') || 'none'}); check the bitmap name and that the export was started with it`,
      );
    }
  }

  // NBD_OPT_GO: export name, then the NBD_INFO_* items we want.
  const infos = Buffer.alloc(2 + 2);
  infos.writeUInt16BE(1, 0);
  infos.writeUInt16BE(C.NBD_INFO_BLOCK_SIZE, 2);
  sendOption(C.NBD_OPT_GO, Buffer.concat([u32String(exportName), infos]));
  let size: number | undefined;
  let transmissionFlags = 0;
  let blockSize: NegotiatedExport['blockSize'];
  for (;;) {
    const r = await readReply(C.NBD_OPT_GO);
    if (r.type === C.NBD_REP_ACK) break;
    if (r.type === C.NBD_REP_INFO) {
      if (r.data.length < 2) throw protocolError('short NBD_REP_INFO reply');
      const info = r.data.readUInt16BE(0);
      if (info === C.NBD_INFO_EXPORT) {
        if (r.data.length < 12) throw protocolError('short NBD_INFO_EXPORT');
        size = Number(r.data.readBigUInt64BE(2));
        transmissionFlags = r.data.readUInt16BE(10);
      } else if (info === C.NBD_INFO_BLOCK_SIZE) {
        if (r.data.length < 14) throw protocolError('short NBD_INFO_BLOCK_SIZE');
        blockSize = { minimum: r.data.readUInt32BE(2), preferred: r.data.readUInt32BE(6), maximum: r.data.readUInt32BE(10) };
      }
      continue; // other info items are optional to understand
    }
    if (r.type === C.NBD_REP_ERR_UNSUP) {
      // Pre-NBD_OPT_GO server: NBD_OPT_EXPORT_NAME enters transmission directly (no error path).
      sendOption(C.NBD_OPT_EXPORT_NAME, Buffer.from(exportName, 'utf8'));
      let reply: Buffer;
      try {
        reply = await queue.readExact(10 + (noZeroes ? 0 : 124));
      } catch (err) {
        throw new GuestvaultError('E_NBD_EXPORT', `NBD ${exportLabel}: the server closed the connection (unknown export?)`, { cause: err });
      }
      size = Number(reply.readBigUInt64BE(0));
      transmissionFlags = reply.readUInt16BE(8);
      break;
    }
    if (isError(r.type)) {
      const code =
        r.type === C.NBD_REP_ERR_UNKNOWN || r.type === C.NBD_REP_ERR_POLICY || r.type === C.NBD_REP_ERR_TLS_REQD
          ? 'E_NBD_EXPORT'
          : 'E_NBD_PROTOCOL';
      throw new GuestvaultError(code, `NBD ${exportLabel}: cannot open the export: ${describeError(r)}`);
    }
    throw protocolError(`unexpected reply type ${r.type} to NBD_OPT_GO`);
  }
  if (size === undefined) throw protocolError('NBD_OPT_GO succeeded without NBD_INFO_EXPORT');
  return { size, transmissionFlags, structuredReplies, contexts, ...(blockSize ? { blockSize } : {}) };
}
