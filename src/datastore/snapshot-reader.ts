import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { GuestvaultError, errnoCode } from '../errors.js';
import {
  decodeBlob, decodeDynamicIndex, decodeFixedIndex, verifyManifestSignature,
  type CryptConfig, type DynamicIndex, type FixedIndex, type Manifest, type ManifestFile,
} from '../formats/index.js';
import type { Datastore } from './datastore.js';
import { formatSnapshot, type SnapshotRef } from './names.js';

/**
 * Read access to one finished snapshot: its manifest (signature and key checked) and its
 * archives, each checked against the checksum the manifest recorded for it.
 */
export class SnapshotReader {
  private constructor(
    readonly store: Datastore,
    readonly ref: SnapshotRef,
    readonly manifest: Manifest,
    readonly crypt: CryptConfig | undefined,
  ) {}

  static open(store: Datastore, ref: SnapshotRef, crypt?: CryptConfig): SnapshotReader {
    const manifest = store.loadManifest(ref);
    const name = formatSnapshot(ref);
    const encrypted = manifest.files.some((f) => f['crypt-mode'] === 'encrypt');
    const fp = manifest.unprotected['key-fingerprint'];
    if (encrypted && !crypt) {
      throw new GuestvaultError('E_KEY_REQUIRED', `snapshot ${name} is encrypted${typeof fp === 'string' ? ` with key ${fp}` : ''}; give its key with --keyfile`);
    }
    if (crypt && typeof fp === 'string' && fp !== crypt.fingerprintString()) {
      throw new GuestvaultError('E_KEY_MISMATCH', `snapshot ${name} was encrypted with key ${fp}, but the given key is ${crypt.fingerprintString()}`);
    }
    verifyManifestSignature(manifest, crypt, `${name}/index.json.blob`);
    return new SnapshotReader(store, ref, manifest, encrypted ? crypt : undefined);
  }

  get name(): string {
    return formatSnapshot(this.ref);
  }

  /** Find an archive by its file name or its short name (`disk.img` → `disk.img.fidx`). */
  file(archive: string): ManifestFile {
    const f = this.manifest.files.find((x) => x.filename === archive)
      ?? this.manifest.files.find((x) => x.filename.replace(/\.(fidx|didx|blob)$/, '') === archive);
    if (!f) {
      const names = this.manifest.files.map((x) => x.filename.replace(/\.(fidx|didx|blob)$/, '')).join(', ');
      throw new GuestvaultError('E_ARCHIVE_UNKNOWN', `snapshot ${this.name} has no archive '${archive}' (it has: ${names})`);
    }
    return f;
  }

  private readRaw(f: ManifestFile): Buffer {
    const path = join(this.store.snapshotDir(this.ref), f.filename);
    try {
      return readFileSync(path);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw new GuestvaultError('E_ARCHIVE_MISSING', `${this.name}/${f.filename} is missing from the datastore`);
      throw err;
    }
  }

  private mismatch(f: ManifestFile, detail: string): GuestvaultError {
    return new GuestvaultError('E_ARCHIVE_CORRUPT', `${this.name}/${f.filename}: ${detail} (the file does not match the manifest)`);
  }

  fixedIndex(f: ManifestFile): FixedIndex {
    const idx = decodeFixedIndex(this.readRaw(f), `${this.name}/${f.filename}`);
    if (idx.csum.toString('hex') !== f.csum) throw this.mismatch(f, 'index checksum differs');
    if (idx.size !== f.size) throw this.mismatch(f, `size ${idx.size} differs from ${f.size}`);
    return idx;
  }

  dynamicIndex(f: ManifestFile): DynamicIndex {
    const idx = decodeDynamicIndex(this.readRaw(f), `${this.name}/${f.filename}`);
    if (idx.csum.toString('hex') !== f.csum) throw this.mismatch(f, 'index checksum differs');
    if (idx.size !== f.size) throw this.mismatch(f, `size ${idx.size} differs from ${f.size}`);
    return idx;
  }

  blob(f: ManifestFile): Buffer {
    const raw = this.readRaw(f);
    if (raw.length !== f.size || createHash('sha256').update(raw).digest('hex') !== f.csum) {
      throw this.mismatch(f, 'checksum differs');
    }
    return decodeBlob(raw, `${this.name}/${f.filename}`, { crypt: this.crypt });
  }
}
