import { canonicalJson } from './canonical-json.js';
import { CryptConfig } from './crypt-config.js';
import { FormatError } from './format-error.js';

export const MANIFEST_BLOB_NAME = 'index.json.blob';

export type CryptMode = 'none' | 'encrypt' | 'sign-only';
export type BackupType = 'vm' | 'ct' | 'host';

export interface ManifestFile {
  filename: string;
  'crypt-mode': CryptMode;
  size: number;
  csum: string;
}

export interface VerifyState {
  state: 'ok' | 'failed';
  upid: string;
}

export interface Manifest {
  'backup-type': BackupType;
  'backup-id': string;
  'backup-time': number;
  files: ManifestFile[];
  /** Not covered by the signature: stats, notes, verify state, key fingerprint. */
  unprotected: Record<string, unknown>;
  signature?: string;
}

function signedPart(m: Manifest): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...m };
  delete rest.unprotected;
  delete rest.signature;
  return rest;
}

export function signManifest(m: Manifest, crypt: CryptConfig): Manifest {
  const signature = crypt.computeAuthTag(canonicalJson(signedPart(m))).toString('hex');
  return { ...m, unprotected: { ...m.unprotected, 'key-fingerprint': crypt.fingerprintString() }, signature };
}

/** Pretty-printed JSON in PBS's field order. */
export function serializeManifest(m: Manifest): Buffer {
  const ordered: Record<string, unknown> = {
    'backup-type': m['backup-type'],
    'backup-id': m['backup-id'],
    'backup-time': m['backup-time'],
    files: m.files.map((f) => ({ filename: f.filename, 'crypt-mode': f['crypt-mode'], size: f.size, csum: f.csum })),
    unprotected: m.unprotected,
  };
  if (m.signature) ordered.signature = m.signature;
  return Buffer.from(JSON.stringify(ordered, null, 2));
}

const BACKUP_TYPES = new Set(['vm', 'ct', 'host']);
const CRYPT_MODES = new Set(['none', 'encrypt', 'sign-only']);

export function parseManifest(json: Buffer, what: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(json.toString('utf8'));
  } catch (err) {
    throw new FormatError('E_MANIFEST_JSON', what, `not valid JSON (${(err as Error).message})`);
  }
  const bad = (detail: string): never => {
    throw new FormatError('E_MANIFEST_INVALID', what, detail);
  };
  if (typeof raw !== 'object' || raw === null) return bad('not a JSON object');
  const m = raw as Record<string, unknown>;
  if (!BACKUP_TYPES.has(m['backup-type'] as string)) bad(`invalid backup-type ${JSON.stringify(m['backup-type'])}`);
  if (typeof m['backup-id'] !== 'string') bad('missing backup-id');
  if (!Number.isInteger(m['backup-time'])) bad('missing backup-time');
  if (!Array.isArray(m.files)) bad('missing files');
  for (const f of m.files as unknown[]) {
    const e = f as Record<string, unknown>;
    if (typeof e?.filename !== 'string' || !/^[^/]+$/.test(e.filename)) bad(`invalid file name ${JSON.stringify(e?.filename)}`);
    if (!CRYPT_MODES.has(e['crypt-mode'] as string)) bad(`invalid crypt-mode for ${String(e.filename)}`);
    if (!Number.isInteger(e.size) || (e.size as number) < 0) bad(`invalid size for ${String(e.filename)}`);
    if (typeof e.csum !== 'string' || !/^[0-9a-f]{64}$/.test(e.csum)) bad(`invalid csum for ${String(e.filename)}`);
  }
  const unprotected = m.unprotected ?? {};
  if (typeof unprotected !== 'object') bad('unprotected is not an object');
  if (m.signature !== undefined && (typeof m.signature !== 'string' || !/^[0-9a-f]{64}$/.test(m.signature))) bad('invalid signature');
  return { ...(m as unknown as Manifest), unprotected: unprotected as Record<string, unknown> };
}

/** Check the signature when the manifest has one and a key is given (without a key it cannot be checked, as in PBS). */
export function verifyManifestSignature(m: Manifest, crypt: CryptConfig | undefined, what: string): void {
  if (!m.signature) return;
  if (!crypt) return; // Readable without the key; only its authenticity cannot be checked.
  const expected = crypt.computeAuthTag(canonicalJson(signedPart(m))).toString('hex');
  if (expected !== m.signature) {
    const fp = m.unprotected['key-fingerprint'];
    throw new FormatError('E_MANIFEST_SIGNATURE', what,
      `signature does not match this key${typeof fp === 'string' ? ` (the backup was made with key ${fp})` : ''}`);
  }
}
