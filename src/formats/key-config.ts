import { createCipheriv, createDecipheriv, pbkdf2Sync, randomBytes, scryptSync } from 'node:crypto';
import { CryptConfig, IV_LENGTH, KEY_LENGTH, TAG_LENGTH } from './crypt-config.js';
import { FormatError } from './format-error.js';

/** A PBS key file (`KeyConfig` JSON): the data key, optionally wrapped by a passphrase. */
export interface KeyConfig {
  kdf: { Scrypt: { n: number; r: number; p: number; salt: string } } | { PBKDF2: { iter: number; salt: string } } | null;
  created: string;
  modified: string;
  data: string;
  fingerprint: string;
  hint?: string;
}

export type KdfName = 'scrypt' | 'pbkdf2' | 'none';
export const MIN_PASSPHRASE_LENGTH = 5;

function rfc3339(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function deriveKey(kdf: NonNullable<KeyConfig['kdf']>, passphrase: string): Buffer {
  if ('Scrypt' in kdf) {
    const { n, r, p, salt } = kdf.Scrypt;
    return scryptSync(passphrase, Buffer.from(salt, 'base64'), 32, { N: n, r, p, maxmem: 1025 * 1024 * 1024 });
  }
  return pbkdf2Sync(passphrase, Buffer.from(kdf.PBKDF2.salt, 'base64'), kdf.PBKDF2.iter, 32, 'sha256');
}

/** Wrap a raw 32-byte key into a key file; `now` is epoch seconds. */
export function createKeyConfig(rawKey: Buffer, opts: { kdf: KdfName; passphrase?: string; now: number; hint?: string }): KeyConfig {
  const crypt = new CryptConfig(rawKey);
  const base = { created: rfc3339(opts.now), modified: rfc3339(opts.now), fingerprint: crypt.fingerprintString() };
  if (opts.kdf === 'none') {
    return { kdf: null, ...base, data: rawKey.toString('base64') };
  }
  const passphrase = opts.passphrase ?? '';
  if (Buffer.byteLength(passphrase) < MIN_PASSPHRASE_LENGTH) {
    throw new FormatError('E_PASSPHRASE_SHORT', 'passphrase', `must be at least ${MIN_PASSPHRASE_LENGTH} bytes long`);
  }
  const salt = randomBytes(32).toString('base64');
  const kdf: NonNullable<KeyConfig['kdf']> = opts.kdf === 'scrypt'
    ? { Scrypt: { n: 65536, r: 8, p: 1, salt } }
    : { PBKDF2: { iter: 65535, salt } };
  const derived = deriveKey(kdf, passphrase);
  const iv = randomBytes(IV_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', derived, iv, { authTagLength: TAG_LENGTH });
  const enc = Buffer.concat([cipher.update(rawKey), cipher.final()]);
  const data = Buffer.concat([iv, cipher.getAuthTag(), enc]).toString('base64');
  return { kdf, ...base, data, ...(opts.hint ? { hint: opts.hint } : {}) };
}

export function keyConfigNeedsPassphrase(k: KeyConfig): boolean {
  return k.kdf !== null;
}

export function parseKeyConfig(text: string, what: string): KeyConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new FormatError('E_KEYFILE_INVALID', what, 'is not a key file (not JSON)');
  }
  const k = raw as KeyConfig;
  if (typeof k !== 'object' || k === null || typeof k.data !== 'string' || !('kdf' in k)) {
    throw new FormatError('E_KEYFILE_INVALID', what, 'is not a key file (missing "kdf" or "data")');
  }
  if (k.kdf !== null && (typeof k.kdf !== 'object' || (!('Scrypt' in k.kdf) && !('PBKDF2' in k.kdf)))) {
    throw new FormatError('E_KEYFILE_INVALID', what, 'uses an unknown key derivation function');
  }
  return k;
}

/** Unwrap the data key (checking the passphrase and the stored fingerprint). */
export function openKeyConfig(k: KeyConfig, passphrase: string | undefined, what: string): CryptConfig {
  let raw: Buffer;
  if (k.kdf === null) {
    raw = Buffer.from(k.data, 'base64');
  } else {
    if (passphrase === undefined) {
      throw new FormatError('E_PASSPHRASE_REQUIRED', what, 'is protected by a passphrase; set GUESTVAULT_ENCRYPTION_PASSWORD or run in a terminal');
    }
    const blob = Buffer.from(k.data, 'base64');
    if (blob.length !== IV_LENGTH + TAG_LENGTH + KEY_LENGTH) {
      throw new FormatError('E_KEYFILE_INVALID', what, 'wrapped key has the wrong length');
    }
    let derived: Buffer;
    try {
      derived = deriveKey(k.kdf, passphrase);
    } catch (err) {
      throw new FormatError('E_KEYFILE_INVALID', what, `has invalid key derivation parameters (${(err as Error).message})`);
    }
    const decipher = createDecipheriv('aes-256-gcm', derived, blob.subarray(0, IV_LENGTH), { authTagLength: TAG_LENGTH });
    decipher.setAuthTag(blob.subarray(IV_LENGTH, IV_LENGTH + TAG_LENGTH));
    try {
      raw = Buffer.concat([decipher.update(blob.subarray(IV_LENGTH + TAG_LENGTH)), decipher.final()]);
    } catch {
      throw new FormatError('E_PASSPHRASE_WRONG', what, 'wrong passphrase');
    }
  }
  if (raw.length !== KEY_LENGTH) throw new FormatError('E_KEYFILE_INVALID', what, 'key has the wrong length');
  const crypt = new CryptConfig(raw);
  if (k.fingerprint && k.fingerprint !== crypt.fingerprintString()) {
    throw new FormatError('E_KEYFILE_FINGERPRINT', what, `stored fingerprint ${k.fingerprint} does not match the key`);
  }
  return crypt;
}
