import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { CliEnv } from '../helpers/cli.js';

const FIXTURE = '/work/shared/fixtures/vma/test.vma.gz';
const env = new CliEnv('gv-vma-');
afterAll(() => env.cleanup());

describe('guestvault vma list|verify|extract on the real Proxmox archive (truncated)', () => {
  it('list shows configs and devices, and which clusters are missing', () => {
    const r = env.json<{ compression: string; uuid: string; configs: unknown[]; devices: Array<Record<string, unknown>>; complete: boolean }>(['vma', 'list', FIXTURE]);
    expect(r.compression).toBe('gzip');
    expect(r.uuid).toBe('04fc12eb-0fed-4322-9aaa-f4e412f68096');
    expect(r.configs).toEqual([{ name: 'qemu-server.conf', size: 417 }]);
    expect(r.devices).toEqual([{ id: 1, name: 'drive-scsi0', size: 10737418240, clusters: 163840, present: 116, zero: 108, 'first-missing': 23 }]);
    expect(r.complete).toBe(false);
    const text = env.run(['vma', 'list', '--config', FIXTURE]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('--- qemu-server.conf');
    expect(text.stdout).toMatch(/scsi0: /);
  });

  it('verify and extract fail naming the device, the missing clusters and the first one; extract leaves nothing behind', () => {
    const v = env.run(['vma', 'verify', FIXTURE]);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain('drive-scsi0: 163724 of 163840 clusters missing, the first is cluster 23 (byte 1507328)');
    const dir = join(env.dir, 'x');
    const x = env.run(['vma', 'extract', FIXTURE, dir]);
    expect(x.code).toBe(1);
    expect(x.stderr).toContain('is incomplete');
    expect(existsSync(dir)).toBe(false);
  });

  it('the same archive uncompressed, zstd- and lzo-compressed reads the same; a cut inside an extent names the offset', () => {
    const raw = gunzipSync(readFileSync(FIXTURE));
    mkdirSync(join(env.dir, 'a'), { recursive: true });
    const plain = join(env.dir, 'a', 'plain.vma');
    writeFileSync(plain, raw);
    for (const [tool, ext] of [['zstd', 'zst'], ['lzop', 'lzo']] as const) {
      const out = `${plain}.${ext}`;
      const c = spawnSync(tool, ['-q', '-f', '-o', out, plain]);
      expect(c.status, `${tool}: ${c.stderr}`).toBe(0);
      const r = env.json<{ compression: string; devices: Array<{ present: number }> }>(['vma', 'list', out]);
      expect(r.compression).toBe(tool === 'zstd' ? 'zstd' : 'lzo');
      expect(r.devices[0]!.present).toBe(116);
    }
    const cut = join(env.dir, 'a', 'cut.vma.gz');
    writeFileSync(cut, gzipSync(raw.subarray(0, 200_000)));
    const r = env.run(['vma', 'verify', cut]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('truncated at byte 200000: inside the extent 2 starting at byte 78848');
    // A compressed stream that is itself cut short: the decompressor's complaint and how far it got.
    const gz = readFileSync(FIXTURE);
    const half = join(env.dir, 'a', 'half.vma.gz');
    writeFileSync(half, gz.subarray(0, gz.length >> 1));
    const h = env.run(['vma', 'verify', half]);
    expect(h.code).toBe(1);
    expect(h.stderr).toMatch(/gzip cannot decompress it after \d+ bytes/);
    // zstd is decompressed in-process: a cut frame and damaged bytes are named the same way.
    const zst = readFileSync(`${plain}.zst`);
    const zcut = join(env.dir, 'a', 'cut.vma.zst');
    writeFileSync(zcut, zst.subarray(0, zst.length - 1000));
    const z = env.run(['vma', 'verify', zcut]);
    expect(z.code).toBe(1);
    expect(z.stderr).toMatch(/zstd cannot decompress it after \d+ bytes: the compressed stream is cut short/);
    const zbad = Buffer.from(zst);
    for (let i = 200; i < 400; i++) zbad[i] ^= 0x5a;
    writeFileSync(zcut, zbad);
    const zb = env.run(['vma', 'verify', zcut]);
    expect(zb.code).toBe(1);
    // Damage is found by zstd, or first by the VMA checksums of what it decoded.
    expect(zb.stderr).toMatch(/zstd cannot decompress it after \d+ bytes: \S|MD5 checksum mismatch/);
  });

  it('refuses a file that is not VMA, and a missing file', () => {
    const notVma = join(env.dir, 'not.vma');
    writeFileSync(notVma, 'just some text, definitely not a VMA archive header at all.................\n');
    const r = env.run(['vma', 'list', notVma]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not a VMA archive');
    const m = env.run(['vma', 'list', join(env.dir, 'nope.vma')]);
    expect(m.code).toBe(1);
    expect(m.stderr).toContain('no such file');
  });
});
