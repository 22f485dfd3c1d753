import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliEnv } from '../helpers/cli.js';
import { MiB, randomData, textData } from '../helpers/data.js';
import { decodeBlob, decodeDynamicIndex } from '../../src/formats/index.js';

interface BackupResult { snapshot: string; archives: { archive: string; newChunks: number; chunks: number }[] }

/**
 * `find -printf` over a tree: type, mode, owner, size, link target and link count of every entry,
 * and its mtime. Times are compared to the microsecond: Node sets times from a double.
 */
function metadata(dir: string): { line: string; mtime: number }[] {
  return execFileSync('find', ['.', '-printf', '%p %y %m %U:%G %s %l %n|%T@\n'], { cwd: dir, encoding: 'utf8' })
    .trim().split('\n').sort().map((l) => {
      const [line, t] = l.split('|');
      return { line: line!, mtime: Number(t) };
    });
}

function expectSameTree(a: string, b: string): void {
  const ma = metadata(a);
  const mb = metadata(b);
  expect(mb.map((m) => m.line)).toEqual(ma.map((m) => m.line));
  ma.forEach((m, i) => expect(Math.abs(m.mtime - mb[i]!.mtime), m.line).toBeLessThan(1e-6));
}

describe('directory backups (pax tar, dynamic index, catalog)', () => {
  const env = new CliEnv();
  const store = join(env.dir, 'store');
  const src = join(env.dir, 'src');

  beforeAll(() => {
    mkdirSync(join(src, 'etc/app'), { recursive: true });
    mkdirSync(join(src, 'data/deep/er'), { recursive: true });
    writeFileSync(join(src, 'etc/app/app.conf'), 'listen 8080\n');
    writeFileSync(join(src, 'etc/app/secret'), randomData(100, 3));
    chmodSync(join(src, 'etc/app/secret'), 0o600);
    chownSync(join(src, 'etc/app/secret'), 1234, 5678);
    writeFileSync(join(src, 'data/log.txt'), textData(3 * MiB));
    writeFileSync(join(src, 'data/random.bin'), randomData(9 * MiB, 4));
    writeFileSync(join(src, 'data/deep/er/leaf.txt'), 'leaf\n');
    symlinkSync('../etc/app/app.conf', join(src, 'data/app.conf'));
    linkSync(join(src, 'data/log.txt'), join(src, 'data/log.hardlink'));
    utimesSync(join(src, 'data/deep/er/leaf.txt'), 1_600_000_000.25, 1_600_000_000.5);
    execFileSync('truncate', ['-s', '64M', join(src, 'data/sparse.img')]);
    writeFileSync(join(src, 'data/sparse.img'), 'middle', { flag: 'r+' });
    expect(env.run(['datastore', 'create', 'main', store]).code).toBe(0);
  });
  afterAll(() => env.cleanup());

  it('backs up a directory with its catalog and restores it with all metadata', () => {
    const res = env.json<BackupResult>(['backup', '--store', 'main', '--backup-type', 'host', '--backup-id', 'web', `root.tar:${src}`]);
    const snapDir = join(store, res.snapshot);
    expect(readdirSync(snapDir).sort()).toEqual(['index.json.blob', 'root.tar.catalog.blob', 'root.tar.didx']);
    const idx = decodeDynamicIndex(readFileSync(join(snapDir, 'root.tar.didx')), 'didx');
    // The sparse 64 MiB file is stored by its map only: the stream is far smaller than the tree's apparent size.
    expect(idx.size).toBeLessThan(20 * MiB);
    const catalog = decodeBlob(readFileSync(join(snapDir, 'root.tar.catalog.blob')), 'catalog').toString();
    expect(catalog).toContain('data/deep/er/leaf.txt');

    const target = join(env.dir, 'restored');
    const r = env.run(['restore', '--store', 'main', res.snapshot, 'root.tar', target]);
    expect(r.code, r.stderr).toBe(0);
    expectSameTree(src, target);
    expect(readFileSync(join(target, 'data/random.bin')).equals(readFileSync(join(src, 'data/random.bin')))).toBe(true);
    expect(lstatSync(join(target, 'data/log.hardlink')).ino).toBe(lstatSync(join(target, 'data/log.txt')).ino);
    expect(lstatSync(join(target, 'data/sparse.img')).blocks * 512).toBeLessThan(MiB);
    expect(lstatSync(join(target, 'etc/app/secret')).uid).toBe(1234);
  });

  it('de-duplicates an unchanged tree completely and a changed one mostly', () => {
    const again = env.json<BackupResult>(['backup', '--store', 'main', '--backup-type', 'host', '--backup-id', 'web', `root.tar:${src}`]);
    expect(again.archives[0]!.newChunks).toBe(0);
    writeFileSync(join(src, 'etc/app/app.conf'), 'listen 9090\n');
    const changed = env.json<BackupResult>(['backup', '--store', 'main', '--backup-type', 'host', '--backup-id', 'web', `root.tar:${src}`]);
    expect(changed.archives[0]!.newChunks).toBeLessThan(changed.archives[0]!.chunks);
  });

  it('restores one file or one subtree with --path, using the catalog', () => {
    const snaps = env.json<{ snapshot: string }[]>(['snapshots', '--store', 'main', 'host/web']);
    const last = snaps.at(-1)!.snapshot;
    const one = join(env.dir, 'one');
    const r = env.run(['restore', '--store', 'main', last, 'root.tar', one, '--path', 'etc/app/app.conf']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(one, 'etc/app/app.conf'), 'utf8')).toBe('listen 9090\n');
    expect(existsSync(join(one, 'data'))).toBe(false);
    const sub = join(env.dir, 'sub');
    expect(env.run(['restore', '--store', 'main', last, 'root.tar', sub, '--path', 'data/deep']).code).toBe(0);
    expect(readFileSync(join(sub, 'data/deep/er/leaf.txt'), 'utf8')).toBe('leaf\n');
    expect(existsSync(join(sub, 'data/log.txt'))).toBe(false);
    const missing = env.run(['restore', '--store', 'main', last, 'root.tar', sub, '--path', 'no/such']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/'no\/such' is not in archive root.tar.didx/);
  });

  it('encrypts directory archives and their catalog', () => {
    const key = join(env.dir, 'key.json');
    expect(env.run(['key', 'create', key, '--kdf', 'none']).code).toBe(0);
    const res = env.json<BackupResult>(['backup', '--store', 'main', '--backup-type', 'host', '--backup-id', 'enc', '--keyfile', key, `root.tar:${src}`]);
    const catalogBlob = readFileSync(join(store, res.snapshot, 'root.tar.catalog.blob'));
    expect(catalogBlob.includes(Buffer.from('leaf.txt'))).toBe(false);
    const target = join(env.dir, 'enc');
    expect(env.run(['restore', '--store', 'main', res.snapshot, 'root.tar', target]).stderr).toContain('E_KEY_REQUIRED');
    const ok = env.run(['restore', '--store', 'main', res.snapshot, 'root.tar', target, '--keyfile', key, '--path', 'data/deep']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(join(target, 'data/deep/er/leaf.txt'), 'utf8')).toBe('leaf\n');
    expect(env.run(['verify', '--store', 'main']).code).toBe(0);
  });
});
