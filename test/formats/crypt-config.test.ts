import { createCipheriv, createDecipheriv, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CryptConfig,
  FINGERPRINT_INPUT,
  IV_LENGTH,
  KEY_LENGTH,
  TAG_LENGTH,
  formatFingerprint,
} from '../../src/formats/index.js';
import { expectFormatError, seededBytes, sha256 } from './helpers.js';

const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));

/** PBKDF2-HMAC-SHA256 for one 32-byte block, written out from RFC 8018. */
function pbkdf2Block(password: Buffer, salt: string, iterations: number): Buffer {
  let u = createHmac('sha256', password).update(Buffer.concat([Buffer.from(salt), Buffer.from([0, 0, 0, 1])])).digest();
  const t = Buffer.from(u);
  for (let i = 1; i < iterations; i++) {
    u = createHmac('sha256', password).update(u).digest();
    for (let j = 0; j < t.length; j++) t[j] = t[j]! ^ u[j]!;
  }
  return t;
}

describe('constants', () => {
  it('FINGERPRINT_INPUT = sha256("Proxmox Backup Encryption Key Fingerprint")', () => {
    expect(FINGERPRINT_INPUT.equals(sha256('Proxmox Backup Encryption Key Fingerprint'))).toBe(true);
    expect([...FINGERPRINT_INPUT]).toEqual([
      110, 208, 239, 119, 71, 31, 255, 77, 85, 199, 168, 254, 74, 157, 182, 33, 97, 64, 127, 19, 76, 114, 93, 223,
      48, 153, 45, 37, 236, 69, 237, 38,
    ]);
  });

  it('key, IV and tag lengths', () => {
    expect(KEY_LENGTH).toBe(32);
    expect(IV_LENGTH).toBe(16);
    expect(TAG_LENGTH).toBe(16);
  });
});

describe('CryptConfig', () => {
  const crypt = new CryptConfig(KEY);
  const idKey = pbkdf2Block(KEY, '_id_key', 10);

  it('id_key = PBKDF2-HMAC-SHA256(key, "_id_key", 10 iterations, 32 bytes)', () => {
    expect(idKey.equals(pbkdf2Sync(KEY, '_id_key', 10, 32, 'sha256'))).toBe(true);
    expect(crypt.idKey.length).toBe(32);
    expect(crypt.idKey.equals(idKey)).toBe(true);
    // Not the key itself and not a different iteration count.
    expect(crypt.idKey.equals(pbkdf2Block(KEY, '_id_key', 1))).toBe(false);
    expect(crypt.idKey.equals(pbkdf2Block(KEY, '_id_key', 11))).toBe(false);
  });

  it('keeps its own copy of the key', () => {
    const key = seededBytes(32, 5);
    const c = new CryptConfig(key);
    key.fill(0);
    expect(c.encKey.equals(seededBytes(32, 5))).toBe(true);
  });

  it('rejects keys that are not 32 bytes with E_KEY_LENGTH', () => {
    for (const n of [0, 16, 31, 33, 64]) {
      expectFormatError(() => new CryptConfig(Buffer.alloc(n)), 'E_KEY_LENGTH', 'encryption key');
    }
  });

  it('digest = sha256(data || id_key)', () => {
    const data = Buffer.from('some chunk data');
    expect(crypt.computeDigest(data).equals(sha256(data, idKey))).toBe(true);
    expect(crypt.computeDigest(data).equals(sha256(data))).toBe(false);
    expect(crypt.computeDigest(Buffer.alloc(0)).equals(sha256(idKey))).toBe(true);
    // Different keys give different digests for the same data.
    expect(new CryptConfig(seededBytes(32, 6)).computeDigest(data).equals(crypt.computeDigest(data))).toBe(false);
  });

  it('auth tag = HMAC-SHA256(id_key, data) for strings and bytes', () => {
    const expected = createHmac('sha256', idKey).update('{"a":1}').digest();
    expect(crypt.computeAuthTag('{"a":1}').equals(expected)).toBe(true);
    expect(crypt.computeAuthTag(Buffer.from('{"a":1}')).equals(expected)).toBe(true);
    expect(crypt.computeAuthTag('{"a":2}').equals(expected)).toBe(false);
  });

  it('fingerprint = sha256(FINGERPRINT_INPUT || id_key), printed as 32 hex pairs', () => {
    const fp = sha256(sha256('Proxmox Backup Encryption Key Fingerprint'), idKey);
    expect(crypt.fingerprint().equals(fp)).toBe(true);
    const s = crypt.fingerprintString();
    expect(s).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/);
    expect(s).toBe([...fp].map((b) => b.toString(16).padStart(2, '0')).join(':'));
    expect(s.length).toBe(32 * 3 - 1);
  });

  it('formatFingerprint pads and lower-cases every byte', () => {
    const bytes = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 10) & 0xff));
    const expected = Array.from(bytes, (b) => (b < 16 ? '0' : '') + b.toString(16)).join(':');
    expect(formatFingerprint(bytes)).toBe(expected);
    expect(formatFingerprint(Buffer.from([0x00, 0x0f, 0xab, 0xff]))).toBe('00:0f:ab:ff');
  });

  it('encrypt: AES-256-GCM with a random 16-byte IV, 16-byte tag, empty AAD', () => {
    const plain = Buffer.from('secret data for the chunk store');
    const { iv, tag, ciphertext } = crypt.encrypt(plain);
    expect(iv.length).toBe(16);
    expect(tag.length).toBe(16);
    expect(ciphertext.length).toBe(plain.length);
    const d = createDecipheriv('aes-256-gcm', KEY, iv);
    d.setAuthTag(tag);
    expect(Buffer.concat([d.update(ciphertext), d.final()]).equals(plain)).toBe(true);
    const again = crypt.encrypt(plain);
    expect(again.iv.equals(iv)).toBe(false);
  });

  it('decrypt: inverse of an independent AES-256-GCM encryption', () => {
    const iv = seededBytes(16, 7);
    const c = createCipheriv('aes-256-gcm', KEY, iv);
    const plain = seededBytes(1000, 8);
    const ciphertext = Buffer.concat([c.update(plain), c.final()]);
    expect(crypt.decrypt(iv, c.getAuthTag(), ciphertext, 'x').equals(plain)).toBe(true);
  });

  it('decrypt: E_DECRYPT naming the object for a wrong key, tag, IV or ciphertext', () => {
    const { iv, tag, ciphertext } = crypt.encrypt(Buffer.from('payload'));
    const other = new CryptConfig(seededBytes(32, 9));
    const what = 'chunk abc';
    expectFormatError(() => other.decrypt(iv, tag, ciphertext, what), 'E_DECRYPT', what);
    const badTag = Buffer.from(tag);
    badTag[0] = badTag[0]! ^ 1;
    expectFormatError(() => crypt.decrypt(iv, badTag, ciphertext, what), 'E_DECRYPT', what);
    const badIv = Buffer.from(iv);
    badIv[15] = badIv[15]! ^ 1;
    expectFormatError(() => crypt.decrypt(badIv, tag, ciphertext, what), 'E_DECRYPT', what);
    const badCt = Buffer.from(ciphertext);
    badCt[3] = badCt[3]! ^ 1;
    expectFormatError(() => crypt.decrypt(iv, tag, badCt, what), 'E_DECRYPT', what);
  });
});
