import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { CliEnv } from '../helpers/cli.js';
import { MiB, randomData, writeImage } from '../helpers/data.js';
import { ENCR_COMPR_BLOB_MAGIC, ENCRYPTED_BLOB_MAGIC, decodeBlob, decodeFixedIndex } from '../../src/formats/index.js';

interface Snap { snapshot: string; 'backup-time': number; size: number; files: { filename: string }[]; verification: { state: string } | null }
interface BackupResult { snapshot: string; archives: { archive: string; chunks: number; newChunks: number; duplicateChunks: number; zeroChunks: number; unchanged?: boolean }[] }

describe('image backups into a datastore', () => {
  const env = new CliEnv();
  const store = join(env.dir, 'store');
  const image = join(env.dir, 'disk.img');
  // 26 MiB + 1 KiB: seven 4 MiB chunks, the last one short; zeros, text and random regions.
  const size = 26 * MiB + 1024;

  beforeAll(() => {
    writeImage(image, size, [['r', 4], ['z', 8], ['t', 4], ['r', 2]]);
    expect(env.run(['datastore', 'create', 'main', store]).code).toBe(0);
  });
  afterAll(() => env.cleanup());

  it('creates the PBS layout and registers the datastore in section-config style', () => {
    expect(statSync(join(store, '.chunks/0000')).isDirectory()).toBe(true);
    expect(statSync(join(store, '.chunks/ffff')).isDirectory()).toBe(true);
    expect(readdirSync(join(store, '.chunks')).length).toBe(65536);
    expect(existsSync(join(store, '.lock'))).toBe(true);
    expect(readFileSync(join(env.home, 'etc/datastore.cfg'), 'utf8')).toBe(`datastore: main\n\tpath ${store}\n`);
    expect(env.json<{ name: string }[]>(['datastore', 'list']).map((d) => d.name)).toEqual(['main']);
  });

  it('backs up, lists, restores bit-identical and sparse, and de-duplicates the next backup', () => {
    const first = env.json<BackupResult>(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '100', `disk.img:${image}`]);
    const a = first.archives[0]!;
    expect(a.chunks).toBe(7);
    expect(a.zeroChunks).toBe(3); // 4..12 MiB and 22..26 MiB are zero
    expect(a.newChunks).toBe(6); // the two full zero chunks are one chunk
    expect(a.duplicateChunks).toBe(1);

    const snapDir = join(store, first.snapshot);
    expect(readdirSync(snapDir).sort()).toEqual(['disk.img.fidx', 'index.json.blob']);
    expect(readFileSync(join(store, 'vm/100/owner'), 'utf8')).toMatch(/^\w+@pam\n$/);
    const idx = decodeFixedIndex(readFileSync(join(snapDir, 'disk.img.fidx')), 'idx');
    expect(idx.size).toBe(size);
    expect(idx.chunkSize).toBe(4 * MiB);
    // Every digest in the index is a chunk file in .chunks/<4 hex>/<digest>.
    for (const d of idx.digests) expect(existsSync(join(store, '.chunks', d.toString('hex').slice(0, 4), d.toString('hex')))).toBe(true);
    const manifest = JSON.parse(decodeBlob(readFileSync(join(snapDir, 'index.json.blob')), 'm').toString());
    expect(manifest['backup-type']).toBe('vm');
    expect(manifest.files[0]).toMatchObject({ filename: 'disk.img.fidx', 'crypt-mode': 'none', size, csum: idx.csum.toString('hex') });

    const target = join(env.dir, 'restored.img');
    const r = env.run(['restore', '--store', 'main', first.snapshot, 'disk.img', target]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(target).equals(readFileSync(image))).toBe(true);
    expect(statSync(target).blocks * 512).toBeLessThan(size - 7 * MiB); // the zero chunks are holes

    const out = env.run(['restore', '--store', 'main', first.snapshot, 'disk.img', '-']);
    expect(out.code).toBe(0);
    expect(out.raw.equals(readFileSync(image))).toBe(true);

    // Unchanged file (same inode, size and times): not read at all, the previous index is reused.
    const second = env.json<BackupResult>(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '100', `disk.img:${image}`]);
    expect(second.archives[0]).toMatchObject({ newChunks: 0, duplicateChunks: 7, unchanged: true });
    expect(second.snapshot > first.snapshot).toBe(true);
    expect(readFileSync(join(store, second.snapshot, 'disk.img.fidx')).subarray(32).equals(readFileSync(join(snapDir, 'disk.img.fidx')).subarray(32))).toBe(true);
    // Forced to read, it finds every chunk present.
    const reread = env.json<BackupResult>(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '100', '--no-skip-unchanged', `disk.img:${image}`]);
    expect(reread.archives[0]).toMatchObject({ newChunks: 0, duplicateChunks: 7 });
    expect(reread.archives[0]!.unchanged).toBeUndefined();

    // Rewrite one 4 MiB region: exactly one new chunk.
    const fd = openSync(image, 'r+');
    writeSync(fd, randomData(4 * MiB, 99), 0, 4 * MiB, 16 * MiB);
    closeSync(fd);
    const third = env.json<BackupResult>(['backup', '--store', 'main', '--backup-type', 'vm', '--backup-id', '100', `disk.img:${image}`]);
    expect(third.archives[0]!.newChunks).toBe(1);

    const snaps = env.json<Snap[]>(['snapshots', '--store', 'main']);
    expect(snaps.map((s) => s.snapshot)).toEqual([first.snapshot, second.snapshot, reread.snapshot, third.snapshot]);
    expect(snaps[0]!.files.map((f) => f.filename)).toEqual(['disk.img.fidx']);
    const t2 = join(env.dir, 'restored3.img');
    expect(env.run(['restore', '--store', 'main', third.snapshot, 'disk.img', t2]).code).toBe(0);
    expect(readFileSync(t2).equals(readFileSync(image))).toBe(true);
  });

  it('keeps namespaces apart and stores small files as blobs', () => {
    const conf = join(env.dir, 'vm.conf');
    writeFileSync(conf, 'name: web\nmemory: 512\n');
    const res = env.json<BackupResult>(['backup', '--store', 'main', '--ns', 'site/rack1', '--backup-type', 'vm', '--backup-id', '100',
      `qemu-server.conf:${conf}`, `disk.img:${image}`]);
    expect(existsSync(join(store, 'ns/site/ns/rack1', res.snapshot, 'qemu-server.conf.blob'))).toBe(true);
    expect(env.json<Snap[]>(['snapshots', '--store', 'main', '--ns', 'site/rack1']).length).toBe(1);
    const out = env.run(['restore', '--store', 'main', '--ns', 'site/rack1', res.snapshot, 'qemu-server.conf', '-']);
    expect(out.stdout).toBe('name: web\nmemory: 512\n');
    const deep = env.run(['snapshots', '--store', 'main', '--ns', 'a/b/c/d/e/f/g/h']);
    expect(deep.code).toBe(2);
    expect(deep.stderr).toMatch(/deeper than 7 levels/);
  });

  it('encrypts with a key file, and refuses to restore without it or with another key', () => {
    const key = join(env.dir, 'k1.json');
    const other = join(env.dir, 'k2.json');
    const created = env.json<{ fingerprint: string }>(['key', 'create', key, '--kdf', 'scrypt'], { env: { GUESTVAULT_ENCRYPTION_PASSWORD: 'correct horse' } });
    expect(created.fingerprint).toMatch(/^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
    expect(env.run(['key', 'create', other, '--kdf', 'none']).code).toBe(0);
    const pw = { GUESTVAULT_ENCRYPTION_PASSWORD: 'correct horse' };
    const res = env.json<BackupResult>(['backup', '--store', 'main', '--backup-type', 'host', '--backup-id', 'enc', '--keyfile', key, `disk.img:${image}`], { env: pw });
    const snapDir = join(store, res.snapshot);
    const idx = decodeFixedIndex(readFileSync(join(snapDir, 'disk.img.fidx')), 'idx');
    const firstChunk = readFileSync(join(store, '.chunks', idx.digests[0]!.toString('hex').slice(0, 4), idx.digests[0]!.toString('hex')));
    const magic = firstChunk.subarray(0, 8);
    expect(magic.equals(ENCRYPTED_BLOB_MAGIC) || magic.equals(ENCR_COMPR_BLOB_MAGIC)).toBe(true);
    const manifest = JSON.parse(decodeBlob(readFileSync(join(snapDir, 'index.json.blob')), 'm').toString());
    expect(manifest.files[0]['crypt-mode']).toBe('encrypt');
    expect(manifest.unprotected['key-fingerprint']).toBe(created.fingerprint);
    expect(manifest.signature).toMatch(/^[0-9a-f]{64}$/);

    const target = join(env.dir, 'enc.img');
    const noKey = env.run(['restore', '--store', 'main', res.snapshot, 'disk.img', target]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('E_KEY_REQUIRED');
    const wrongKey = env.run(['restore', '--store', 'main', res.snapshot, 'disk.img', target, '--keyfile', other]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('E_KEY_MISMATCH');
    const wrongPass = env.run(['restore', '--store', 'main', res.snapshot, 'disk.img', target, '--keyfile', key], { env: { GUESTVAULT_ENCRYPTION_PASSWORD: 'wrong horse' } });
    expect(wrongPass.stderr).toContain('E_PASSPHRASE_WRONG');
    expect(existsSync(target)).toBe(false);
    const ok = env.run(['restore', '--store', 'main', res.snapshot, 'disk.img', target, '--keyfile', key], { env: pw });
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(target).equals(readFileSync(image))).toBe(true);
  });
});
