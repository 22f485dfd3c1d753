import { createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CryptConfig,
  MANIFEST_BLOB_NAME,
  blobBytes,
  decodeBlob,
  encodeBlob,
  parseManifest,
  serializeManifest,
  signManifest,
  verifyManifestSignature,
  type Manifest,
} from '../../src/formats/index.js';
import { expectFormatError, seededBytes } from './helpers.js';

const KEY = seededBytes(32, 40);
const crypt = new CryptConfig(KEY);
const otherCrypt = new CryptConfig(seededBytes(32, 41));
const CSUM_A = 'aa'.repeat(32);
const CSUM_B = '0123456789abcdef'.repeat(4);
const what = 'vm/100/2024-06-05T15:06:40Z/index.json.blob';

function sample(): Manifest {
  return {
    'backup-type': 'vm',
    'backup-id': '100',
    'backup-time': 1717600000,
    files: [
      { filename: 'drive-scsi0.img.fidx', 'crypt-mode': 'encrypt', size: 34359738368, csum: CSUM_A },
      { filename: 'qemu-server.conf.blob', 'crypt-mode': 'encrypt', size: 512, csum: CSUM_B },
    ],
    unprotected: {},
  };
}

/** The canonical JSON of sample(), written out by hand. */
const SAMPLE_CANONICAL =
  '{"backup-id":"100","backup-time":1717600000,"backup-type":"vm","files":[' +
  `{"crypt-mode":"encrypt","csum":"${CSUM_A}","filename":"drive-scsi0.img.fidx","size":34359738368},` +
  `{"crypt-mode":"encrypt","csum":"${CSUM_B}","filename":"qemu-server.conf.blob","size":512}]}`;

function expectedSignature(key: Buffer, canonical: string): string {
  const idKey = pbkdf2Sync(key, '_id_key', 10, 32, 'sha256');
  return createHmac('sha256', idKey).update(canonical).digest('hex');
}

describe('serializeManifest / parseManifest', () => {
  it('the manifest blob name', () => {
    expect(MANIFEST_BLOB_NAME).toBe('index.json.blob');
  });

  it('writes pretty-printed JSON in PBS field order', () => {
    const m: Manifest = {
      'backup-type': 'ct',
      'backup-id': '101',
      'backup-time': 5,
      files: [{ csum: CSUM_B, size: 3, 'crypt-mode': 'none', filename: 'root.pxar.didx' }],
      unprotected: { notes: 'hi' },
    };
    expect(serializeManifest(m).toString()).toBe(
      [
        '{',
        '  "backup-type": "ct",',
        '  "backup-id": "101",',
        '  "backup-time": 5,',
        '  "files": [',
        '    {',
        '      "filename": "root.pxar.didx",',
        '      "crypt-mode": "none",',
        '      "size": 3,',
        `      "csum": "${CSUM_B}"`,
        '    }',
        '  ],',
        '  "unprotected": {',
        '    "notes": "hi"',
        '  }',
        '}',
      ].join('\n'),
    );
  });

  it('round trips, with and without a signature', () => {
    const m = sample();
    expect(parseManifest(serializeManifest(m), what)).toEqual(m);
    const signed = signManifest(m, crypt);
    const text = serializeManifest(signed);
    expect(Object.keys(JSON.parse(text.toString()) as object)).toEqual([
      'backup-type', 'backup-id', 'backup-time', 'files', 'unprotected', 'signature',
    ]);
    expect(parseManifest(text, what)).toEqual(signed);
  });

  it('survives the trip through a zstd blob', () => {
    const signed = signManifest(sample(), crypt);
    const blob = blobBytes(encodeBlob(serializeManifest(signed), { compress: true }));
    const back = parseManifest(decodeBlob(blob, what), what);
    expect(back).toEqual(signed);
    expect(() => verifyManifestSignature(back, crypt, what)).not.toThrow();
  });

  it('treats a missing unprotected section as empty', () => {
    const rest: Partial<Manifest> = sample();
    delete rest.unprotected;
    const m = parseManifest(Buffer.from(JSON.stringify(rest)), what);
    expect(m.unprotected).toEqual({});
    expect(m.files.length).toBe(2);
  });

  it('rejects invalid JSON with E_MANIFEST_JSON', () => {
    for (const text of ['', '{', '{"backup-type": "vm",}', 'not json', '\u0000']) {
      expectFormatError(() => parseManifest(Buffer.from(text), what), 'E_MANIFEST_JSON', what);
    }
  });

  it('rejects bad fields with E_MANIFEST_INVALID', () => {
    const good = JSON.parse(serializeManifest(signManifest(sample(), crypt)).toString()) as Record<string, unknown>;
    const variants: ((m: Record<string, unknown>) => void)[] = [
      (m) => { m['backup-type'] = 'lxc'; },
      (m) => { delete m['backup-type']; },
      (m) => { m['backup-id'] = 100; },
      (m) => { delete m['backup-id']; },
      (m) => { m['backup-time'] = '1717600000'; },
      (m) => { m['backup-time'] = 1.5; },
      (m) => { delete m['backup-time']; },
      (m) => { m.files = {}; },
      (m) => { delete m.files; },
      (m) => { m.files = [null]; },
      (m) => { m.files = ['drive-scsi0.img.fidx']; },
      (m) => { fileOf(m).filename = '../etc/passwd'; },
      (m) => { fileOf(m).filename = ''; },
      (m) => { fileOf(m).filename = 7; },
      (m) => { fileOf(m)['crypt-mode'] = 'aes'; },
      (m) => { delete fileOf(m)['crypt-mode']; },
      (m) => { fileOf(m).size = -1; },
      (m) => { fileOf(m).size = 1.5; },
      (m) => { fileOf(m).size = '512'; },
      (m) => { fileOf(m).csum = CSUM_A.toUpperCase(); },
      (m) => { fileOf(m).csum = CSUM_A.slice(2); },
      (m) => { fileOf(m).csum = `${CSUM_A}00`; },
      (m) => { delete fileOf(m).csum; },
      (m) => { m.unprotected = 'notes'; },
      (m) => { m.signature = 'abc'; },
      (m) => { m.signature = 5; },
    ];
    variants.forEach((mutate, i) => {
      const m = structuredClone(good);
      mutate(m);
      const err = expectFormatError(() => parseManifest(Buffer.from(JSON.stringify(m)), what), 'E_MANIFEST_INVALID', what);
      expect(err.message, `variant ${i}`).toContain(what);
    });
    for (const text of ['null', '42', '"manifest"', '[]', 'true']) {
      expectFormatError(() => parseManifest(Buffer.from(text), what), 'E_MANIFEST_INVALID', what);
    }
  });

  it('accepts every backup type and crypt mode', () => {
    for (const type of ['vm', 'ct', 'host'] as const) {
      for (const mode of ['none', 'encrypt', 'sign-only'] as const) {
        const m = sample();
        m['backup-type'] = type;
        m.files[0]!['crypt-mode'] = mode;
        const back = parseManifest(serializeManifest(m), what);
        expect(back['backup-type']).toBe(type);
        expect(back.files[0]!['crypt-mode']).toBe(mode);
      }
    }
  });
});

function fileOf(m: Record<string, unknown>): Record<string, unknown> {
  return (m.files as Record<string, unknown>[])[1]!;
}

describe('signManifest / verifyManifestSignature', () => {
  it('signature = HMAC-SHA256(id_key, canonical JSON without unprotected and signature)', () => {
    const signed = signManifest(sample(), crypt);
    expect(signed.signature).toBe(expectedSignature(KEY, SAMPLE_CANONICAL));
    expect(signed.signature).toMatch(/^[0-9a-f]{64}$/);
  });

  it('records the key fingerprint in unprotected and keeps other unprotected data', () => {
    const m = sample();
    m.unprotected = { notes: 'before', verify_state: { state: 'ok', upid: 'UPID:x' } };
    const signed = signManifest(m, crypt);
    expect(signed.unprotected).toEqual({
      notes: 'before',
      verify_state: { state: 'ok', upid: 'UPID:x' },
      'key-fingerprint': crypt.fingerprintString(),
    });
    // The input is not modified, and unprotected data does not enter the signature.
    expect(m.unprotected['key-fingerprint']).toBeUndefined();
    expect(m.signature).toBeUndefined();
    expect(signed.signature).toBe(expectedSignature(KEY, SAMPLE_CANONICAL));
  });

  it('re-signing ignores the old signature', () => {
    const once = signManifest(sample(), crypt);
    const twice = signManifest({ ...once, signature: 'ff'.repeat(32) }, crypt);
    expect(twice.signature).toBe(once.signature);
  });

  it('verifies a signed manifest, also after serialize and parse', () => {
    const signed = signManifest(sample(), crypt);
    expect(() => verifyManifestSignature(signed, crypt, what)).not.toThrow();
    const back = parseManifest(serializeManifest(signed), what);
    expect(() => verifyManifestSignature(back, crypt, what)).not.toThrow();
  });

  it('fails with E_MANIFEST_SIGNATURE after changing a protected field', () => {
    const signed = signManifest(sample(), crypt);
    const changes: ((m: Manifest) => void)[] = [
      (m) => { m.files[0]!.csum = `ab${CSUM_A.slice(2)}`; },
      (m) => { m.files[1]!.csum = CSUM_A; },
      (m) => { m.files[0]!.size += 1; },
      (m) => { m.files[1]!.filename = 'other.conf.blob'; },
      (m) => { m.files[0]!['crypt-mode'] = 'none'; },
      (m) => { m.files.reverse(); },
      (m) => { m.files.pop(); },
      (m) => { m.files.push({ filename: 'extra.blob', 'crypt-mode': 'none', size: 1, csum: CSUM_B }); },
      (m) => { m['backup-time'] += 1; },
      (m) => { m['backup-id'] = '101'; },
      (m) => { m['backup-type'] = 'ct'; },
      (m) => { m.signature = `00${m.signature!.slice(2)}`; },
    ];
    changes.forEach((change) => {
      const m = structuredClone(signed);
      change(m);
      expectFormatError(() => verifyManifestSignature(m, crypt, what), 'E_MANIFEST_SIGNATURE', what);
    });
  });

  it('fails with E_MANIFEST_SIGNATURE under another key, naming the signing key', () => {
    const signed = signManifest(sample(), crypt);
    const err = expectFormatError(() => verifyManifestSignature(signed, otherCrypt, what), 'E_MANIFEST_SIGNATURE', what);
    expect(err.message).toContain(crypt.fingerprintString());
    const signedByOther = signManifest(sample(), otherCrypt);
    expect(signedByOther.signature).not.toBe(signed.signature);
    expectFormatError(() => verifyManifestSignature(signedByOther, crypt, what), 'E_MANIFEST_SIGNATURE', what);
  });

  it('changing unprotected does not break the signature', () => {
    const signed = signManifest(sample(), crypt);
    const m = structuredClone(signed);
    m.unprotected.notes = 'new notes\nsecond line';
    m.unprotected.verify_state = { state: 'failed', upid: 'UPID:pbs:00000001:00000002:00000003:66600000:verify::root@pam:' };
    m.unprotected.chunk_upload_stats = { count: 10, size: 100, compressed_size: 50, duplicates: 2 };
    delete m.unprotected['key-fingerprint'];
    expect(() => verifyManifestSignature(m, crypt, what)).not.toThrow();
    const back = parseManifest(serializeManifest(m), what);
    expect(() => verifyManifestSignature(back, crypt, what)).not.toThrow();
  });

  it('covers fields this program does not know (the whole JSON but unprotected and signature)', () => {
    const withExtra = { ...sample(), 'future-field': { b: 2, a: [1, 'x'] } } as Manifest;
    const signed = signManifest(withExtra, crypt);
    const canonical = `${SAMPLE_CANONICAL.slice(0, -1)},"future-field":{"a":[1,"x"],"b":2}}`;
    expect(signed.signature).toBe(expectedSignature(KEY, canonical));
    const parsed = parseManifest(Buffer.from(JSON.stringify(signed)), what);
    expect(() => verifyManifestSignature(parsed, crypt, what)).not.toThrow();
    const changed = { ...parsed, 'future-field': 1 } as Manifest;
    expectFormatError(() => verifyManifestSignature(changed, crypt, what), 'E_MANIFEST_SIGNATURE', what);
  });

  it('verifies a manifest written independently (PBS style) with a hand-computed signature', () => {
    const signature = expectedSignature(KEY, SAMPLE_CANONICAL);
    const text = JSON.stringify({
      'backup-type': 'vm',
      'backup-id': '100',
      'backup-time': 1717600000,
      files: sample().files,
      unprotected: { 'key-fingerprint': crypt.fingerprintString(), chunk_upload_stats: { count: 1, size: 2, compressed_size: 3, duplicates: 0 } },
      signature,
    }, null, 2);
    const m = parseManifest(Buffer.from(text), what);
    expect(m.signature).toBe(signature);
    expect(() => verifyManifestSignature(m, crypt, what)).not.toThrow();
  });

  it('without a signature, or without a key, there is nothing to check', () => {
    expect(() => verifyManifestSignature(sample(), crypt, what)).not.toThrow();
    const tampered = signManifest(sample(), crypt);
    tampered.files[0]!.size = 1;
    expect(() => verifyManifestSignature(tampered, undefined, what)).not.toThrow();
  });
});
