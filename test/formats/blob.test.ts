import { createCipheriv, createDecipheriv, pbkdf2Sync } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Compressor, compress as zstdCompress, decompress as zstdDecompress } from 'zstd-napi';
import {
  COMPRESSED_BLOB_MAGIC,
  CryptConfig,
  ENCR_COMPR_BLOB_MAGIC,
  ENCRYPTED_BLOB_MAGIC,
  ENCRYPTED_HEADER_SIZE,
  MAX_BLOB_SIZE,
  PLAIN_HEADER_SIZE,
  UNCOMPRESSED_BLOB_MAGIC,
  blobBytes,
  blobKind,
  blobLength,
  checkBlobCrc,
  decodeBlob,
  encodeBlob,
  isEncryptedKind,
  type BlobKind,
} from '../../src/formats/index.js';
import { expectFormatError, flipByte, seededBytes, sha256, textData } from './helpers.js';

const KEY = seededBytes(32, 1);
const OTHER_KEY = seededBytes(32, 2);
const crypt = new CryptConfig(KEY);
const otherCrypt = new CryptConfig(OTHER_KEY);
const ZSTD_FRAME_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

const text = textData(200_000);
const random = seededBytes(100_000, 3);

/** Writes the CRC-32 of the bytes after the header into offset 8, as a tamperer would. */
function fixCrc(blob: Buffer): Buffer {
  const kind = blobKind(blob, 'x');
  const headerSize = isEncryptedKind(kind) ? ENCRYPTED_HEADER_SIZE : PLAIN_HEADER_SIZE;
  blob.writeUInt32LE(crc32(blob.subarray(headerSize)), 8);
  return blob;
}

function aesGcm(key: Buffer, iv: Buffer, plain: Uint8Array): { tag: Buffer; ciphertext: Buffer } {
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([c.update(plain), c.final()]);
  return { tag: c.getAuthTag(), ciphertext };
}

describe('blob magic numbers', () => {
  const cases: [string, Buffer, number[]][] = [
    ['Proxmox Backup uncompressed blob v1.0', UNCOMPRESSED_BLOB_MAGIC, [66, 171, 56, 7, 190, 131, 112, 161]],
    ['Proxmox Backup zstd compressed blob v1.0', COMPRESSED_BLOB_MAGIC, [49, 185, 88, 66, 111, 182, 163, 127]],
    ['Proxmox Backup encrypted blob v1.0', ENCRYPTED_BLOB_MAGIC, [123, 103, 133, 190, 34, 45, 76, 240]],
    ['Proxmox Backup zstd compressed encrypted blob v1.0', ENCR_COMPR_BLOB_MAGIC, [230, 89, 27, 191, 11, 191, 216, 11]],
  ];
  it.each(cases)('%s = sha256(...)[0..8]', (name, magic, bytes) => {
    expect([...magic]).toEqual([...sha256(name).subarray(0, 8)]);
    expect([...magic]).toEqual(bytes);
  });

  it('header sizes are 12 and 44 bytes, max blob size 128 MiB', () => {
    expect(PLAIN_HEADER_SIZE).toBe(12);
    expect(ENCRYPTED_HEADER_SIZE).toBe(44);
    expect(MAX_BLOB_SIZE).toBe(128 * 1024 * 1024);
  });
});

describe('encodeBlob', () => {
  it('plain: exact bytes magic | crc32 LE | data', () => {
    const data = Buffer.from('hello, proxmox backup');
    const blob = encodeBlob(data, { compress: false });
    expect(blob.kind).toBe('plain');
    const bytes = blobBytes(blob);
    const expected = Buffer.alloc(12 + data.length);
    Buffer.from([66, 171, 56, 7, 190, 131, 112, 161]).copy(expected, 0);
    expected.writeUInt32LE(crc32(data), 8);
    data.copy(expected, 12);
    expect(bytes.equals(expected)).toBe(true);
    expect(blob.header.length).toBe(12);
    expect(blobLength(blob)).toBe(bytes.length);
  });

  it('plain: CRC-32 at offset 8 is little-endian, known value for "123456789"', () => {
    // 0xCBF43926 is the standard IEEE CRC-32 check value.
    const blob = blobBytes(encodeBlob(Buffer.from('123456789'), { compress: false }));
    expect([...blob.subarray(8, 12)]).toEqual([0x26, 0x39, 0xf4, 0xcb]);
  });

  it('zstd: used for compressible data; payload is a zstd frame of the data', () => {
    const blob = encodeBlob(text, { compress: true });
    expect(blob.kind).toBe('zstd');
    const bytes = blobBytes(blob);
    expect([...bytes.subarray(0, 8)]).toEqual([49, 185, 88, 66, 111, 182, 163, 127]);
    expect(bytes.readUInt32LE(8)).toBe(crc32(bytes.subarray(12)));
    expect(bytes.subarray(12, 16).equals(ZSTD_FRAME_MAGIC)).toBe(true);
    expect(blob.payload.length).toBeLessThan(text.length / 4);
    expect(zstdDecompress(bytes.subarray(12)).equals(text)).toBe(true);
  });

  it('zstd: random (incompressible) data stays plain', () => {
    const blob = encodeBlob(random, { compress: true });
    expect(blob.kind).toBe('plain');
    const bytes = blobBytes(blob);
    expect(bytes.subarray(0, 8).equals(UNCOMPRESSED_BLOB_MAGIC)).toBe(true);
    expect(bytes.subarray(12).equals(random)).toBe(true);
  });

  it('zstd: a 4 MiB chunk that is random except between the sampled places is still compressed', () => {
    // Samples are taken at the start, the end and at 1/3 and 2/3: make all but one of them random.
    const size = 4 * 1024 * 1024;
    const chunk = Buffer.concat([seededBytes(size / 2, 7), textData(size / 2)]);
    seededBytes(64 * 1024, 8).copy(chunk, size - 64 * 1024); // the end is random too
    const blob = encodeBlob(chunk, { compress: true });
    expect(blob.kind).toBe('zstd');
    expect(decodeBlob(blobBytes(blob), 'mixed').equals(chunk)).toBe(true);
    // All random: stored as it is, without compressing it whole first.
    const rnd = seededBytes(size, 9);
    const plain = encodeBlob(rnd, { compress: true });
    expect(plain.kind).toBe('plain');
    expect(decodeBlob(blobBytes(plain), 'random').equals(rnd)).toBe(true);
  });

  it('zstd: tiny data that zstd would grow stays plain', () => {
    const data = Buffer.from('ab');
    expect(zstdCompress(data).length).toBeGreaterThanOrEqual(data.length);
    expect(encodeBlob(data, { compress: true }).kind).toBe('plain');
  });

  it('compress: false keeps compressible data plain', () => {
    const blob = encodeBlob(text, { compress: false });
    expect(blob.kind).toBe('plain');
    expect(blob.payload.equals(text)).toBe(true);
  });

  it('encrypted: 44-byte header magic | crc(ciphertext) | iv | tag, AES-256-GCM of the data', () => {
    const blob = encodeBlob(random, { compress: true, crypt });
    expect(blob.kind).toBe('encrypted');
    expect(blob.header.length).toBe(44);
    const bytes = blobBytes(blob);
    expect(bytes.length).toBe(44 + random.length);
    expect([...bytes.subarray(0, 8)]).toEqual([123, 103, 133, 190, 34, 45, 76, 240]);
    const ciphertext = bytes.subarray(44);
    expect(bytes.readUInt32LE(8)).toBe(crc32(ciphertext));
    // CRC covers only the ciphertext, not IV and tag.
    expect(bytes.readUInt32LE(8)).not.toBe(crc32(bytes.subarray(12)));
    const iv = bytes.subarray(12, 28);
    const tag = bytes.subarray(28, 44);
    const d = createDecipheriv('aes-256-gcm', KEY, iv);
    d.setAuthTag(tag);
    const plain = Buffer.concat([d.update(ciphertext), d.final()]);
    expect(plain.equals(random)).toBe(true);
  });

  it('zstd+encrypted: compress first, then encrypt', () => {
    const blob = encodeBlob(text, { compress: true, crypt });
    expect(blob.kind).toBe('zstd-encrypted');
    const bytes = blobBytes(blob);
    expect([...bytes.subarray(0, 8)]).toEqual([230, 89, 27, 191, 11, 191, 216, 11]);
    expect(bytes.readUInt32LE(8)).toBe(crc32(bytes.subarray(44)));
    const d = createDecipheriv('aes-256-gcm', KEY, bytes.subarray(12, 28));
    d.setAuthTag(bytes.subarray(28, 44));
    const compressed = Buffer.concat([d.update(bytes.subarray(44)), d.final()]);
    expect(compressed.subarray(0, 4).equals(ZSTD_FRAME_MAGIC)).toBe(true);
    expect(zstdDecompress(compressed).equals(text)).toBe(true);
  });

  it('encrypted blobs use a fresh IV every time', () => {
    const a = blobBytes(encodeBlob(text, { compress: false, crypt }));
    const b = blobBytes(encodeBlob(text, { compress: false, crypt }));
    expect(a.subarray(12, 28).equals(b.subarray(12, 28))).toBe(false);
    expect(a.subarray(44).equals(b.subarray(44))).toBe(false);
  });

  it('empty data: 12-byte plain blob with CRC 0, 44-byte encrypted blob', () => {
    const plain = blobBytes(encodeBlob(Buffer.alloc(0), { compress: true }));
    expect(plain.length).toBe(12);
    expect(plain.subarray(0, 8).equals(UNCOMPRESSED_BLOB_MAGIC)).toBe(true);
    expect(plain.readUInt32LE(8)).toBe(0);
    const enc = blobBytes(encodeBlob(Buffer.alloc(0), { compress: true, crypt }));
    expect(enc.length).toBe(44);
    expect(enc.subarray(0, 8).equals(ENCRYPTED_BLOB_MAGIC)).toBe(true);
    expect(enc.readUInt32LE(8)).toBe(0);
    expect(decodeBlob(plain, 'empty').length).toBe(0);
    expect(decodeBlob(enc, 'empty', { crypt }).length).toBe(0);
  });

  it('refuses data larger than MAX_BLOB_SIZE with E_BLOB_TOO_LARGE', () => {
    expectFormatError(() => encodeBlob(Buffer.alloc(MAX_BLOB_SIZE + 1), { compress: false }), 'E_BLOB_TOO_LARGE');
  });
});

describe('decodeBlob round trip', () => {
  const cases: [BlobKind, Buffer, boolean, boolean][] = [
    ['plain', random, false, false],
    ['zstd', text, true, false],
    ['encrypted', random, false, true],
    ['zstd-encrypted', text, true, true],
  ];
  it.each(cases)('%s', (kind, data, compress, encrypted) => {
    const opts = encrypted ? { compress, crypt } : { compress };
    const blob = encodeBlob(data, opts);
    expect(blob.kind).toBe(kind);
    const bytes = blobBytes(blob);
    expect(blobKind(bytes, 'b')).toBe(kind);
    expect(checkBlobCrc(bytes, 'b')).toBe(kind);
    expect(isEncryptedKind(kind)).toBe(encrypted);
    const digest = encrypted ? crypt.computeDigest(data) : sha256(data);
    const out = decodeBlob(bytes, 'b', { crypt, digest, size: data.length });
    expect(out.equals(data)).toBe(true);
  });

  it('plain blobs decode without a key even if one is given', () => {
    const bytes = blobBytes(encodeBlob(text, { compress: true }));
    expect(decodeBlob(bytes, 'b').equals(text)).toBe(true);
    expect(decodeBlob(bytes, 'b', { crypt }).equals(text)).toBe(true);
  });

  it('decodes a blob that sits at an offset inside a larger buffer, and a plain Uint8Array', () => {
    const bytes = blobBytes(encodeBlob(text, { compress: true, crypt }));
    const big = new Uint8Array(bytes.length + 100);
    big.set(bytes, 37);
    const view = big.subarray(37, 37 + bytes.length);
    expect(decodeBlob(view, 'b', { crypt }).equals(text)).toBe(true);
    const plain = blobBytes(encodeBlob(text, { compress: false }));
    const big2 = new Uint8Array(plain.length + 10);
    big2.set(plain, 5);
    expect(decodeBlob(big2.subarray(5, 5 + plain.length), 'b').equals(text)).toBe(true);
  });

  it('decodes blobs built independently (as PBS writes them) for all four kinds', () => {
    const iv = seededBytes(16, 9);
    const z = zstdCompress(text, { compressionLevel: 1 });
    const build = (magic: Buffer, payload: Buffer, ivTag?: Buffer): Buffer => {
      const head = Buffer.alloc(12);
      magic.copy(head, 0);
      head.writeUInt32LE(crc32(payload), 8);
      return Buffer.concat([head, ...(ivTag ? [ivTag] : []), payload]);
    };
    expect(decodeBlob(build(UNCOMPRESSED_BLOB_MAGIC, text), 'p').equals(text)).toBe(true);
    expect(decodeBlob(build(COMPRESSED_BLOB_MAGIC, z), 'z').equals(text)).toBe(true);
    const e1 = aesGcm(KEY, iv, text);
    const blobE = build(ENCRYPTED_BLOB_MAGIC, e1.ciphertext, Buffer.concat([iv, e1.tag]));
    expect(decodeBlob(blobE, 'e', { crypt }).equals(text)).toBe(true);
    const e2 = aesGcm(KEY, iv, z);
    const blobEZ = build(ENCR_COMPR_BLOB_MAGIC, e2.ciphertext, Buffer.concat([iv, e2.tag]));
    expect(decodeBlob(blobEZ, 'ez', { crypt }).equals(text)).toBe(true);
  });

  it('decodes a zstd frame without a content size in its header', () => {
    const cmp = new Compressor();
    cmp.setParameters({ compressionLevel: 1, contentSizeFlag: false });
    const z = cmp.compress(text);
    const head = Buffer.alloc(12);
    COMPRESSED_BLOB_MAGIC.copy(head, 0);
    head.writeUInt32LE(crc32(z), 8);
    expect(decodeBlob(Buffer.concat([head, z]), 'nosize').equals(text)).toBe(true);
  });

  it('uses the keyed digest sha256(data || id_key) for encrypted blobs', () => {
    const bytes = blobBytes(encodeBlob(text, { compress: true, crypt }));
    const idKey = pbkdf2Sync(KEY, '_id_key', 10, 32, 'sha256');
    expect(decodeBlob(bytes, 'c', { crypt, digest: sha256(text, idKey) }).equals(text)).toBe(true);
    expectFormatError(() => decodeBlob(bytes, 'c', { crypt, digest: sha256(text) }), 'E_BLOB_DIGEST', 'c');
  });
});

describe('decodeBlob errors', () => {
  const plainBlob = blobBytes(encodeBlob(text, { compress: false }));
  const zstdBlob = blobBytes(encodeBlob(text, { compress: true }));
  const encBlob = blobBytes(encodeBlob(text, { compress: true, crypt }));
  const what = 'chunk 0123abcd';

  it('wrong magic: E_BLOB_MAGIC naming the blob', () => {
    for (const blob of [plainBlob, zstdBlob, encBlob]) {
      for (const off of [0, 3, 7]) {
        const err = expectFormatError(() => decodeBlob(flipByte(blob, off), what, { crypt }), 'E_BLOB_MAGIC', what);
        expect(err.message).toContain(what);
      }
    }
    expectFormatError(() => blobKind(Buffer.alloc(64), what), 'E_BLOB_MAGIC', what);
  });

  it('flipped payload byte: E_BLOB_CRC', () => {
    expectFormatError(() => decodeBlob(flipByte(plainBlob, 12), what), 'E_BLOB_CRC', what);
    expectFormatError(() => decodeBlob(flipByte(plainBlob, plainBlob.length - 1, 0x80), what), 'E_BLOB_CRC', what);
    expectFormatError(() => decodeBlob(flipByte(zstdBlob, 20), what), 'E_BLOB_CRC', what);
    expectFormatError(() => decodeBlob(flipByte(encBlob, 50), what, { crypt }), 'E_BLOB_CRC', what);
    // An encrypted blob's CRC can be checked without the key.
    expectFormatError(() => checkBlobCrc(flipByte(encBlob, 50), what), 'E_BLOB_CRC', what);
  });

  it('flipped CRC byte: E_BLOB_CRC', () => {
    expectFormatError(() => decodeBlob(flipByte(plainBlob, 8), what), 'E_BLOB_CRC', what);
    expectFormatError(() => decodeBlob(flipByte(encBlob, 11, 0x40), what, { crypt }), 'E_BLOB_CRC', what);
  });

  it('truncated below the header: E_BLOB_TRUNCATED', () => {
    for (const len of [0, 1, 8, 11]) {
      expectFormatError(() => decodeBlob(plainBlob.subarray(0, len), what), 'E_BLOB_TRUNCATED', what);
    }
    // Encrypted blobs need their 44-byte header.
    for (const len of [12, 30, 43]) {
      expectFormatError(() => decodeBlob(encBlob.subarray(0, len), what, { crypt }), 'E_BLOB_TRUNCATED', what);
    }
  });

  it('truncated payload: E_BLOB_CRC', () => {
    expectFormatError(() => decodeBlob(plainBlob.subarray(0, plainBlob.length - 1), what), 'E_BLOB_CRC', what);
    expectFormatError(() => decodeBlob(encBlob.subarray(0, 60), what, { crypt }), 'E_BLOB_CRC', what);
  });

  it('encrypted blob without key: E_KEY_REQUIRED', () => {
    expectFormatError(() => decodeBlob(encBlob, what), 'E_KEY_REQUIRED', what);
    const uncompressed = blobBytes(encodeBlob(random, { compress: true, crypt }));
    expectFormatError(() => decodeBlob(uncompressed, what, {}), 'E_KEY_REQUIRED', what);
  });

  it('wrong key: E_DECRYPT', () => {
    expectFormatError(() => decodeBlob(encBlob, what, { crypt: otherCrypt }), 'E_DECRYPT', what);
  });

  it('tampered ciphertext, IV or tag (CRC recomputed): E_DECRYPT', () => {
    const tamperedCipher = fixCrc(flipByte(encBlob, 44 + 10));
    expect(() => checkBlobCrc(tamperedCipher, what)).not.toThrow();
    expectFormatError(() => decodeBlob(tamperedCipher, what, { crypt }), 'E_DECRYPT', what);
    // IV and tag are outside the CRC, so only decryption notices.
    expectFormatError(() => decodeBlob(flipByte(encBlob, 12), what, { crypt }), 'E_DECRYPT', what);
    expectFormatError(() => decodeBlob(flipByte(encBlob, 43), what, { crypt }), 'E_DECRYPT', what);
  });

  it('digest mismatch: E_BLOB_DIGEST', () => {
    const bad = flipByte(sha256(text), 31);
    expectFormatError(() => decodeBlob(plainBlob, what, { digest: bad }), 'E_BLOB_DIGEST', what);
    expectFormatError(() => decodeBlob(zstdBlob, what, { digest: bad }), 'E_BLOB_DIGEST', what);
    expectFormatError(() => decodeBlob(encBlob, what, { crypt, digest: flipByte(crypt.computeDigest(text), 0) }),
      'E_BLOB_DIGEST', what);
    // The same data under another key has another digest.
    const other = blobBytes(encodeBlob(text, { compress: true, crypt: otherCrypt }));
    expectFormatError(() => decodeBlob(other, what, { crypt: otherCrypt, digest: crypt.computeDigest(text) }),
      'E_BLOB_DIGEST', what);
  });

  it('size mismatch: E_BLOB_SIZE', () => {
    expectFormatError(() => decodeBlob(plainBlob, what, { size: text.length - 1 }), 'E_BLOB_SIZE', what);
    expectFormatError(() => decodeBlob(zstdBlob, what, { size: text.length + 1 }), 'E_BLOB_SIZE', what);
    expectFormatError(() => decodeBlob(encBlob, what, { crypt, size: 0 }), 'E_BLOB_SIZE', what);
  });

  it('corrupt zstd data with a valid CRC: E_BLOB_ZSTD', () => {
    const corrupt = fixCrc(Buffer.from(zstdBlob));
    corrupt.fill(0xff, 20, 40);
    fixCrc(corrupt);
    expectFormatError(() => decodeBlob(corrupt, what), 'E_BLOB_ZSTD', what);
    const garbage = Buffer.concat([Buffer.alloc(12), Buffer.from('definitely not zstd')]);
    COMPRESSED_BLOB_MAGIC.copy(garbage, 0);
    expectFormatError(() => decodeBlob(fixCrc(garbage), what), 'E_BLOB_ZSTD', what);
  });

  it('checkBlobCrc refuses blobs larger than the maximum', () => {
    const huge = Buffer.alloc(MAX_BLOB_SIZE + PLAIN_HEADER_SIZE + 1);
    UNCOMPRESSED_BLOB_MAGIC.copy(huge, 0);
    expectFormatError(() => checkBlobCrc(huge, what), 'E_BLOB_TOO_LARGE', what);
  });
});
