import { createCipheriv, createDecipheriv, pbkdf2Sync, scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CryptConfig,
  MIN_PASSPHRASE_LENGTH,
  createKeyConfig,
  keyConfigNeedsPassphrase,
  openKeyConfig,
  parseKeyConfig,
  type KeyConfig,
} from '../../src/formats/index.js';
import { expectFormatError, seededBytes } from './helpers.js';

const RAW = seededBytes(32, 50);
const NOW = 1717600000;
const NOW_RFC3339 = '2024-06-05T15:06:40Z';
const PASS = 'correct horse battery';
const what = '/etc/guestvault/encryption-key.json';
const FINGERPRINT_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/;

function unwrapIndependently(derived: Buffer, data: string): Buffer {
  const blob = Buffer.from(data, 'base64');
  expect(blob.length).toBe(16 + 16 + 32);
  const d = createDecipheriv('aes-256-gcm', derived, blob.subarray(0, 16));
  d.setAuthTag(blob.subarray(16, 32));
  return Buffer.concat([d.update(blob.subarray(32)), d.final()]);
}

function isCanonicalBase64(s: string): boolean {
  return Buffer.from(s, 'base64').toString('base64') === s;
}

describe('createKeyConfig / openKeyConfig with kdf none', () => {
  const k = createKeyConfig(RAW, { kdf: 'none', now: NOW });

  it('stores the raw key in base64 with the fingerprint and RFC 3339 times', () => {
    expect(k.kdf).toBeNull();
    expect(k.data).toBe(RAW.toString('base64'));
    expect(k.created).toBe(NOW_RFC3339);
    expect(k.modified).toBe(NOW_RFC3339);
    expect(k.fingerprint).toBe(new CryptConfig(RAW).fingerprintString());
    expect(k.fingerprint).toMatch(FINGERPRINT_RE);
    expect('hint' in k).toBe(false);
    expect(keyConfigNeedsPassphrase(k)).toBe(false);
  });

  it('round trips through JSON', () => {
    const parsed = parseKeyConfig(JSON.stringify(k, null, 2), what);
    expect(parsed).toEqual(k);
    const crypt = openKeyConfig(parsed, undefined, what);
    expect(crypt.encKey.equals(RAW)).toBe(true);
    // A passphrase given for an unprotected key is simply not needed.
    expect(openKeyConfig(parsed, 'whatever', what).encKey.equals(RAW)).toBe(true);
  });

  it('accepts a key file without a fingerprint (optional in PBS)', () => {
    const rest: Partial<KeyConfig> = { ...k };
    delete rest.fingerprint;
    const crypt = openKeyConfig(parseKeyConfig(JSON.stringify(rest), what), undefined, what);
    expect(crypt.encKey.equals(RAW)).toBe(true);
  });

  it('tampered fingerprint: E_KEYFILE_FINGERPRINT', () => {
    const fp = k.fingerprint;
    const tampered = { ...k, fingerprint: `${fp.slice(0, -1)}${fp.endsWith('0') ? '1' : '0'}` };
    const err = expectFormatError(() => openKeyConfig(tampered, undefined, what), 'E_KEYFILE_FINGERPRINT', what);
    expect(err.message).toContain(tampered.fingerprint);
    const otherKey = createKeyConfig(seededBytes(32, 51), { kdf: 'none', now: NOW });
    expectFormatError(() => openKeyConfig({ ...k, fingerprint: otherKey.fingerprint }, undefined, what),
      'E_KEYFILE_FINGERPRINT', what);
  });

  it('a raw key of the wrong length: E_KEYFILE_INVALID', () => {
    for (const n of [0, 16, 31, 33]) {
      const bad = { ...k, data: seededBytes(n, 52).toString('base64') };
      expectFormatError(() => openKeyConfig(bad, undefined, what), 'E_KEYFILE_INVALID', what);
    }
  });

  it('keeps a hint', () => {
    const withHint = createKeyConfig(RAW, { kdf: 'pbkdf2', passphrase: PASS, now: NOW, hint: 'the usual' });
    expect(withHint.hint).toBe('the usual');
    expect(parseKeyConfig(JSON.stringify(withHint), what).hint).toBe('the usual');
  });
});

describe('createKeyConfig / openKeyConfig with scrypt', () => {
  const k = createKeyConfig(RAW, { kdf: 'scrypt', passphrase: PASS, now: NOW });

  it('uses n=65536 r=8 p=1 and a 32-byte base64 salt', () => {
    expect(k.kdf).not.toBeNull();
    const kdf = k.kdf as { Scrypt: { n: number; r: number; p: number; salt: string } };
    expect(Object.keys(k.kdf!)).toEqual(['Scrypt']);
    expect(Object.keys(kdf.Scrypt).sort()).toEqual(['n', 'p', 'r', 'salt']);
    expect(kdf.Scrypt.n).toBe(65536);
    expect(kdf.Scrypt.r).toBe(8);
    expect(kdf.Scrypt.p).toBe(1);
    expect(Buffer.from(kdf.Scrypt.salt, 'base64').length).toBe(32);
    expect(isCanonicalBase64(kdf.Scrypt.salt)).toBe(true);
    expect(keyConfigNeedsPassphrase(k)).toBe(true);
    expect(k.fingerprint).toBe(new CryptConfig(RAW).fingerprintString());
    expect(k.created).toBe(NOW_RFC3339);
  });

  it('data = iv | tag | AES-256-GCM(scrypt(passphrase), raw key)', () => {
    const kdf = (k.kdf as { Scrypt: { salt: string } }).Scrypt;
    const derived = scryptSync(PASS, Buffer.from(kdf.salt, 'base64'), 32, { N: 65536, r: 8, p: 1, maxmem: 256 * 1024 * 1024 });
    expect(unwrapIndependently(derived, k.data).equals(RAW)).toBe(true);
    expect(k.data).not.toContain(RAW.toString('base64'));
  });

  it('round trips through JSON with the right passphrase', () => {
    const parsed = parseKeyConfig(JSON.stringify(k), what);
    expect(parsed).toEqual(k);
    expect(openKeyConfig(parsed, PASS, what).encKey.equals(RAW)).toBe(true);
  });

  it('wrong passphrase: E_PASSPHRASE_WRONG', () => {
    expectFormatError(() => openKeyConfig(k, `${PASS}!`, what), 'E_PASSPHRASE_WRONG', what);
  });

  it('missing passphrase: E_PASSPHRASE_REQUIRED', () => {
    expectFormatError(() => openKeyConfig(k, undefined, what), 'E_PASSPHRASE_REQUIRED', what);
  });

  it('uses a fresh salt and IV each time', () => {
    const k2 = createKeyConfig(RAW, { kdf: 'pbkdf2', passphrase: PASS, now: NOW });
    const k3 = createKeyConfig(RAW, { kdf: 'pbkdf2', passphrase: PASS, now: NOW });
    const salt = (c: KeyConfig): string => (c.kdf as { PBKDF2: { salt: string } }).PBKDF2.salt;
    expect(salt(k2)).not.toBe(salt(k3));
    expect(k2.data).not.toBe(k3.data);
    expect(k2.fingerprint).toBe(k3.fingerprint);
  });
});

describe('createKeyConfig / openKeyConfig with pbkdf2', () => {
  const k = createKeyConfig(RAW, { kdf: 'pbkdf2', passphrase: PASS, now: NOW });

  it('uses 65535 iterations and a 32-byte base64 salt', () => {
    expect(Object.keys(k.kdf!)).toEqual(['PBKDF2']);
    const kdf = (k.kdf as { PBKDF2: { iter: number; salt: string } }).PBKDF2;
    expect(kdf.iter).toBe(65535);
    expect(Buffer.from(kdf.salt, 'base64').length).toBe(32);
    expect(isCanonicalBase64(kdf.salt)).toBe(true);
  });

  it('data = iv | tag | AES-256-GCM(PBKDF2-HMAC-SHA256(passphrase), raw key)', () => {
    const kdf = (k.kdf as { PBKDF2: { iter: number; salt: string } }).PBKDF2;
    const derived = pbkdf2Sync(PASS, Buffer.from(kdf.salt, 'base64'), 65535, 32, 'sha256');
    expect(unwrapIndependently(derived, k.data).equals(RAW)).toBe(true);
  });

  it('round trips; wrong and missing passphrases fail', () => {
    const parsed = parseKeyConfig(JSON.stringify(k), what);
    expect(openKeyConfig(parsed, PASS, what).encKey.equals(RAW)).toBe(true);
    expectFormatError(() => openKeyConfig(parsed, 'Correct horse battery', what), 'E_PASSPHRASE_WRONG', what);
    expectFormatError(() => openKeyConfig(parsed, '', what), 'E_PASSPHRASE_WRONG', what);
    expectFormatError(() => openKeyConfig(parsed, undefined, what), 'E_PASSPHRASE_REQUIRED', what);
  });

  it('tampered fingerprint: E_KEYFILE_FINGERPRINT', () => {
    const other = new CryptConfig(seededBytes(32, 53)).fingerprintString();
    expectFormatError(() => openKeyConfig({ ...k, fingerprint: other }, PASS, what), 'E_KEYFILE_FINGERPRINT', what);
  });

  it('tampered wrapped key: E_PASSPHRASE_WRONG (the GCM tag does not match)', () => {
    const blob = Buffer.from(k.data, 'base64');
    blob[40] = blob[40]! ^ 1;
    expectFormatError(() => openKeyConfig({ ...k, data: blob.toString('base64') }, PASS, what), 'E_PASSPHRASE_WRONG', what);
  });

  it('wrapped key of the wrong length: E_KEYFILE_INVALID', () => {
    const blob = Buffer.from(k.data, 'base64');
    for (const bad of [blob.subarray(0, 63), Buffer.concat([blob, Buffer.alloc(1)]), Buffer.alloc(0)]) {
      expectFormatError(() => openKeyConfig({ ...k, data: bad.toString('base64') }, PASS, what), 'E_KEYFILE_INVALID', what);
    }
  });

  it('opens a key file written independently, PBS style (local-time offset, no fingerprint, other iterations)', () => {
    const salt = seededBytes(32, 54);
    const iv = seededBytes(16, 55);
    const derived = pbkdf2Sync('secret5', salt, 1000, 32, 'sha256');
    const c = createCipheriv('aes-256-gcm', derived, iv);
    const enc = Buffer.concat([c.update(RAW), c.final()]);
    const text = JSON.stringify({
      kdf: { PBKDF2: { iter: 1000, salt: salt.toString('base64') } },
      created: '2024-06-05T17:06:40+02:00',
      modified: '2024-06-05T17:06:40+02:00',
      data: Buffer.concat([iv, c.getAuthTag(), enc]).toString('base64'),
    });
    const k2 = parseKeyConfig(text, what);
    expect(openKeyConfig(k2, 'secret5', what).encKey.equals(RAW)).toBe(true);
  });
});

describe('passphrase length', () => {
  it('is at least 5 bytes', () => {
    expect(MIN_PASSPHRASE_LENGTH).toBe(5);
  });

  it('short passphrase: E_PASSPHRASE_SHORT', () => {
    for (const kdf of ['scrypt', 'pbkdf2'] as const) {
      for (const passphrase of ['', 'a', 'abcd', 'ää']) {
        expectFormatError(() => createKeyConfig(RAW, { kdf, passphrase, now: NOW }), 'E_PASSPHRASE_SHORT', 'passphrase');
      }
    }
  });

  it('missing passphrase when creating with a KDF: E_PASSPHRASE_SHORT', () => {
    expectFormatError(() => createKeyConfig(RAW, { kdf: 'pbkdf2', now: NOW }), 'E_PASSPHRASE_SHORT', 'passphrase');
  });

  it('5 bytes are enough, counted in UTF-8 bytes', () => {
    for (const passphrase of ['abcde', 'äää']) {
      const k = createKeyConfig(RAW, { kdf: 'pbkdf2', passphrase, now: NOW });
      expect(openKeyConfig(k, passphrase, what).encKey.equals(RAW)).toBe(true);
    }
  });
});

describe('parseKeyConfig', () => {
  it('garbage: E_KEYFILE_INVALID naming the file', () => {
    const garbage = [
      '',
      'not a key',
      '{',
      'null',
      '42',
      '"key"',
      '[]',
      '{}',
      '{"kdf": null}',
      '{"data": "AAAA"}',
      '{"kdf": null, "data": 5}',
      '{"kdf": {"Argon2": {"salt": "AAAA"}}, "data": "AAAA"}',
      '{"kdf": {}, "data": "AAAA"}',
      '{"kdf": "scrypt", "data": "AAAA"}',
      '{"kdf": 7, "data": "AAAA"}',
      '{"kdf": [], "data": "AAAA"}',
    ];
    for (const text of garbage) {
      const err = expectFormatError(() => parseKeyConfig(text, what), 'E_KEYFILE_INVALID', what);
      expect(err.message).toContain(what);
    }
  });

  it('bad KDF parameters: E_KEYFILE_INVALID', () => {
    const k = createKeyConfig(RAW, { kdf: 'pbkdf2', passphrase: PASS, now: NOW });
    const salt = (k.kdf as { PBKDF2: { salt: string } }).PBKDF2.salt;
    const bad = [
      { Scrypt: { n: 3, r: 8, p: 1, salt } },
      { Scrypt: { n: 65536, r: 8, p: 1 } },
      { Scrypt: { n: '65536', r: 8, p: 1, salt } },
      { PBKDF2: { iter: 0, salt } },
      { PBKDF2: { iter: 'many', salt } },
      { PBKDF2: { iter: 1000 } },
      { Scrypt: null },
      { PBKDF2: 'fast' },
    ];
    for (const kdf of bad) {
      const text = JSON.stringify({ ...k, kdf });
      expectFormatError(() => openKeyConfig(parseKeyConfig(text, what), PASS, what), 'E_KEYFILE_INVALID', what);
    }
  });
});
