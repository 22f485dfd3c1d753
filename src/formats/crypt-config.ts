import { createCipheriv, createDecipheriv, createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { FormatError } from './format-error.js';

/** sha256("Proxmox Backup Encryption Key Fingerprint"), as PBS uses it. */
export const FINGERPRINT_INPUT = Buffer.from([
  110, 208, 239, 119, 71, 31, 255, 77, 85, 199, 168, 254, 74, 157, 182, 33, 97, 64, 127, 19, 76, 114,
  93, 223, 48, 153, 45, 37, 236, 69, 237, 38,
]);

export const KEY_LENGTH = 32;
export const IV_LENGTH = 16;
export const TAG_LENGTH = 16;

/**
 * An encryption key as PBS uses it: AES-256-GCM with the key itself, and an `id_key` derived from
 * it that is mixed into chunk digests (so equal plaintext under different keys never dedups) and
 * signs manifests.
 */
export class CryptConfig {
  readonly encKey: Buffer;
  readonly idKey: Buffer;

  constructor(encKey: Buffer) {
    if (encKey.length !== KEY_LENGTH) {
      throw new FormatError('E_KEY_LENGTH', 'encryption key', `must be ${KEY_LENGTH} bytes, got ${encKey.length}`);
    }
    this.encKey = Buffer.from(encKey);
    this.idKey = pbkdf2Sync(this.encKey, '_id_key', 10, 32, 'sha256');
  }

  /** Chunk digest of plaintext under this key: SHA-256(data || id_key). */
  computeDigest(data: Uint8Array): Buffer {
    return createHash('sha256').update(data).update(this.idKey).digest();
  }

  /** HMAC-SHA256 with the id key, used for the manifest signature. */
  computeAuthTag(data: string | Uint8Array): Buffer {
    return createHmac('sha256', this.idKey).update(data).digest();
  }

  fingerprint(): Buffer {
    return createHash('sha256').update(FINGERPRINT_INPUT).update(this.idKey).digest();
  }

  fingerprintString(): string {
    return formatFingerprint(this.fingerprint());
  }

  /** Returns iv, tag and ciphertext of AES-256-GCM with a fresh random 16-byte IV and empty AAD. */
  encrypt(plain: Uint8Array): { iv: Buffer; tag: Buffer; ciphertext: Buffer } {
    const iv = randomBytes(IV_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', this.encKey, iv, { authTagLength: TAG_LENGTH });
    const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
    return { iv, tag: cipher.getAuthTag(), ciphertext };
  }

  /** Throws E_DECRYPT when the tag does not match: wrong key or tampered data. */
  decrypt(iv: Uint8Array, tag: Uint8Array, ciphertext: Uint8Array, what: string): Buffer {
    const decipher = createDecipheriv('aes-256-gcm', this.encKey, iv, { authTagLength: TAG_LENGTH });
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      throw new FormatError('E_DECRYPT', what, 'decryption failed: wrong key or corrupted data');
    }
  }
}

/** `aa:bb:…` over all 32 bytes, as PBS prints key fingerprints. */
export function formatFingerprint(fp: Uint8Array): string {
  return Array.from(fp, (b) => b.toString(16).padStart(2, '0')).join(':');
}
