import { crc32 } from 'node:zlib';
import { createHash } from 'node:crypto';
import { Decompressor } from 'zstd-napi';
import { createRequire } from 'node:module';
// The low-level binding lets us compress into and decompress from buffers we own.
import type * as ZstdBinding from 'zstd-napi/binding.js';
const zstd = createRequire(import.meta.url)('zstd-napi/binding.js') as typeof ZstdBinding;
import { CryptConfig, IV_LENGTH, TAG_LENGTH } from './crypt-config.js';
import { FormatError } from './format-error.js';

// Magic numbers are sha256("Proxmox Backup … blob v1.0")[0..8], as in PBS's file_formats.rs.
export const UNCOMPRESSED_BLOB_MAGIC = Buffer.from([66, 171, 56, 7, 190, 131, 112, 161]);
export const COMPRESSED_BLOB_MAGIC = Buffer.from([49, 185, 88, 66, 111, 182, 163, 127]);
export const ENCRYPTED_BLOB_MAGIC = Buffer.from([123, 103, 133, 190, 34, 45, 76, 240]);
export const ENCR_COMPR_BLOB_MAGIC = Buffer.from([230, 89, 27, 191, 11, 191, 216, 11]);

export const PLAIN_HEADER_SIZE = 12;
export const ENCRYPTED_HEADER_SIZE = 12 + IV_LENGTH + TAG_LENGTH;
/** PBS refuses blobs larger than this. */
export const MAX_BLOB_SIZE = 128 * 1024 * 1024;

export type BlobKind = 'plain' | 'zstd' | 'encrypted' | 'zstd-encrypted';

/** An encoded blob as header + payload, so writers can `writev` without copying the payload. */
export interface EncodedBlob {
  header: Buffer;
  payload: Buffer;
  kind: BlobKind;
}

export function blobLength(blob: EncodedBlob): number {
  return blob.header.length + blob.payload.length;
}

export function blobBytes(blob: EncodedBlob): Buffer {
  return Buffer.concat([blob.header, blob.payload]);
}

// One compression context per thread: zstd contexts are expensive to create and not thread-safe.
let cctx: ZstdBinding.CCtx | undefined;
let scratch = Buffer.alloc(0);

/**
 * zstd level 1 into a buffer one byte smaller than the input, so compression that does not
 * pay off fails fast instead of producing output we would throw away. Returns undefined then.
 */
function zstdCompress(data: Uint8Array, reuse: boolean, into: Buffer | undefined): Buffer | undefined {
  if (!cctx) {
    cctx = new zstd.CCtx();
    cctx.setParameter(zstd.CParameter.compressionLevel, 1);
  }
  if (looksIncompressible(cctx, data)) return undefined;
  const limit = data.length - 1;
  let dst: Buffer;
  if (into && into.length >= limit) {
    dst = into.subarray(0, limit);
  } else if (reuse) {
    if (scratch.length < limit) scratch = Buffer.allocUnsafe(limit);
    dst = scratch.subarray(0, limit);
  } else {
    dst = Buffer.allocUnsafe(limit);
  }
  try {
    return dst.subarray(0, cctx.compress2(dst, data));
  } catch {
    return undefined; // "Destination buffer is too small": not compressible enough.
  }
}

/** Data at least this big is sampled before it is compressed whole. */
const SAMPLE_FROM = 1024 * 1024;
const SAMPLE_SIZE = 32 * 1024;
const SAMPLES = 4;
/** A sample "compresses" when zstd gets it at least this much smaller. */
const SAMPLE_LIMIT = SAMPLE_SIZE - SAMPLE_SIZE / 32;
let sampleOut: Buffer | undefined;

/**
 * True when four samples spread over the data (start, end and two between) all fail to shrink
 * by 3 %: then the whole is not worth a try. zstd on incompressible data still hashes all of it
 * and copies it into the output (~5 ms per 4 MiB chunk here, ~2 % of what compressing takes is
 * spent on the samples), and random or already-compressed disk regions are common. The one
 * loss: a chunk whose samples all land in incompressible parts while the rest would compress
 * is stored uncompressed, which is valid and costs only space.
 */
function looksIncompressible(ctx: ZstdBinding.CCtx, data: Uint8Array): boolean {
  if (data.length < SAMPLE_FROM) return false;
  sampleOut ??= Buffer.allocUnsafe(SAMPLE_LIMIT);
  for (let i = 0; i < SAMPLES; i++) {
    const at = Math.floor(((data.length - SAMPLE_SIZE) * i) / (SAMPLES - 1));
    try {
      ctx.compress2(sampleOut, data.subarray(at, at + SAMPLE_SIZE));
      return false; // it fit: this part compresses
    } catch {
      // too big for SAMPLE_LIMIT: this part does not compress
    }
  }
  return true;
}

let dctx: ZstdBinding.DCtx | undefined;

let decompressor: Decompressor | undefined;
/** With a known size the output buffer is exactly that big, which also bounds a hostile frame. */
function zstdDecompress(data: Uint8Array, what: string, size: number | undefined, into: Buffer | undefined): Buffer {
  try {
    if (size === undefined) {
      decompressor ??= new Decompressor();
      return decompressor.decompress(data);
    }
    dctx ??= new zstd.DCtx();
    const out = into && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size);
    const n = dctx.decompress(out, data);
    if (n !== size) throw new FormatError('E_BLOB_SIZE', what, `decoded to ${n} bytes, expected ${size}`);
    return out;
  } catch (err) {
    if (err instanceof FormatError) throw err;
    if (/too small/i.test((err as Error).message)) {
      throw new FormatError('E_BLOB_SIZE', what, `decodes to more than the expected ${size} bytes`);
    }
    throw new FormatError('E_BLOB_ZSTD', what, `zstd data is corrupt (${(err as Error).message})`);
  }
}

/**
 * Encode data as a PBS DataBlob. With `compress`, zstd level 1 is kept only when strictly
 * smaller, as PBS 3.x does; with a crypt config the (possibly compressed) bytes are encrypted.
 * With `reuseBuffer` the payload may live in a per-thread scratch buffer that the next call
 * overwrites: for callers that write the blob out at once (the chunk workers). With `into`
 * (unencrypted only), compressed data goes to `into` after room for the header, and the
 * header before it: the whole blob is then `into`'s first bytes (an O_DIRECT buffer).
 */
export function encodeBlob(data: Uint8Array, opts: { compress: boolean; crypt?: CryptConfig; reuseBuffer?: boolean; into?: Buffer }): EncodedBlob {
  if (data.length > MAX_BLOB_SIZE) {
    throw new FormatError('E_BLOB_TOO_LARGE', 'blob', `${data.length} bytes exceeds the maximum of ${MAX_BLOB_SIZE}`);
  }
  let body: Uint8Array = data;
  let compressed = false;
  if (opts.compress && data.length > 1) {
    const z = zstdCompress(data, opts.reuseBuffer === true, opts.crypt ? undefined : opts.into?.subarray(PLAIN_HEADER_SIZE));
    if (z) {
      body = z;
      compressed = true;
    }
  }
  if (opts.crypt) {
    const { iv, tag, ciphertext } = opts.crypt.encrypt(body);
    const header = Buffer.alloc(ENCRYPTED_HEADER_SIZE);
    (compressed ? ENCR_COMPR_BLOB_MAGIC : ENCRYPTED_BLOB_MAGIC).copy(header, 0);
    header.writeUInt32LE(crc32(ciphertext), 8);
    iv.copy(header, 12);
    tag.copy(header, 12 + IV_LENGTH);
    return { header, payload: ciphertext, kind: compressed ? 'zstd-encrypted' : 'encrypted' };
  }
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.length);
  // Compressed into `into`: the header goes just before the payload, making one contiguous blob.
  const header = compressed && opts.into && payload.buffer === opts.into.buffer && payload.byteOffset === opts.into.byteOffset + PLAIN_HEADER_SIZE ? opts.into.subarray(0, PLAIN_HEADER_SIZE) : Buffer.alloc(PLAIN_HEADER_SIZE);
  (compressed ? COMPRESSED_BLOB_MAGIC : UNCOMPRESSED_BLOB_MAGIC).copy(header, 0);
  header.writeUInt32LE(crc32(payload), 8);
  return { header, payload, kind: compressed ? 'zstd' : 'plain' };
}

/** Which of the four kinds a blob is, or a typed error for anything else. */
export function blobKind(blob: Uint8Array, what: string): BlobKind {
  if (blob.length < PLAIN_HEADER_SIZE) {
    throw new FormatError('E_BLOB_TRUNCATED', what, `only ${blob.length} bytes, shorter than a blob header`);
  }
  const magic = Buffer.from(blob.buffer, blob.byteOffset, 8);
  if (magic.equals(UNCOMPRESSED_BLOB_MAGIC)) return 'plain';
  if (magic.equals(COMPRESSED_BLOB_MAGIC)) return 'zstd';
  if (magic.equals(ENCRYPTED_BLOB_MAGIC)) return 'encrypted';
  if (magic.equals(ENCR_COMPR_BLOB_MAGIC)) return 'zstd-encrypted';
  throw new FormatError('E_BLOB_MAGIC', what, `not a data blob (wrong magic ${magic.toString('hex')})`);
}

export function isEncryptedKind(kind: BlobKind): boolean {
  return kind === 'encrypted' || kind === 'zstd-encrypted';
}

/** Check the magic and the CRC-32 only (what a server can check of an encrypted chunk). */
export function checkBlobCrc(blob: Uint8Array, what: string): BlobKind {
  const kind = blobKind(blob, what);
  const headerSize = isEncryptedKind(kind) ? ENCRYPTED_HEADER_SIZE : PLAIN_HEADER_SIZE;
  if (blob.length < headerSize) {
    throw new FormatError('E_BLOB_TRUNCATED', what, `only ${blob.length} bytes, shorter than its ${headerSize}-byte header`);
  }
  if (blob.length > MAX_BLOB_SIZE + headerSize) {
    throw new FormatError('E_BLOB_TOO_LARGE', what, `${blob.length} bytes exceeds the maximum blob size`);
  }
  const view = Buffer.from(blob.buffer, blob.byteOffset, blob.length);
  const stored = view.readUInt32LE(8);
  const actual = crc32(view.subarray(headerSize));
  if (stored !== actual) {
    throw new FormatError(
      'E_BLOB_CRC',
      what,
      `CRC-32 mismatch (stored ${stored.toString(16).padStart(8, '0')}, computed ${actual.toString(16).padStart(8, '0')})`,
    );
  }
  return kind;
}

export interface DecodeOptions {
  /** Needed for encrypted blobs; a missing key is an error naming the blob. */
  crypt?: CryptConfig;
  /** When given, the decoded data must hash to this digest (SHA-256, keyed if encrypted). */
  digest?: Uint8Array;
  /** When given, the decoded data must have exactly this length. */
  size?: number;
  /** Decompress into this buffer when it is large enough (the result then aliases it). */
  into?: Buffer;
}

/** Decode a blob: magic, CRC, decryption, decompression, and optionally size and digest. */
export function decodeBlob(blob: Uint8Array, what: string, opts: DecodeOptions = {}): Buffer {
  const kind = checkBlobCrc(blob, what);
  const view = Buffer.from(blob.buffer, blob.byteOffset, blob.length);
  let body: Buffer;
  if (isEncryptedKind(kind)) {
    if (!opts.crypt) {
      throw new FormatError('E_KEY_REQUIRED', what, 'is encrypted; give the key with --keyfile');
    }
    body = opts.crypt.decrypt(
      view.subarray(12, 12 + IV_LENGTH),
      view.subarray(12 + IV_LENGTH, ENCRYPTED_HEADER_SIZE),
      view.subarray(ENCRYPTED_HEADER_SIZE),
      what,
    );
  } else {
    body = view.subarray(PLAIN_HEADER_SIZE);
  }
  const data = kind === 'zstd' || kind === 'zstd-encrypted' ? zstdDecompress(body, what, opts.size, opts.into) : body;
  if (opts.size !== undefined && data.length !== opts.size) {
    throw new FormatError('E_BLOB_SIZE', what, `decoded to ${data.length} bytes, expected ${opts.size}`);
  }
  if (opts.digest) {
    const actual = isEncryptedKind(kind) && opts.crypt
      ? opts.crypt.computeDigest(data)
      : createHash('sha256').update(data).digest();
    if (!actual.equals(Buffer.from(opts.digest))) {
      throw new FormatError('E_BLOB_DIGEST', what, `content does not match its digest (got ${actual.toString('hex')})`);
    }
  }
  return data;
}
