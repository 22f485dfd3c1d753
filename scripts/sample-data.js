#!/usr/bin/env node
// Generates the demo's sample data: a raw disk image that looks like a VM disk (zeros, text,
// random data in mixed regions) and a small directory tree with links and odd modes.
import { createCipheriv } from 'node:crypto';
import { mkdirSync, openSync, writeSync, closeSync, writeFileSync, symlinkSync, linkSync, chmodSync, rmSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';

const [, , outDir, sizeMiB = '256'] = process.argv;
if (!outDir) {
  console.error('usage: sample-data.js OUTDIR [IMAGE_SIZE_MIB]');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

// Deterministic pseudo-random bytes: AES-CTR over zeros with a fixed key.
const rng = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
const random = (n) => rng.update(Buffer.alloc(n));
const words = ['backup', 'restore', 'chunk', 'index', 'guest', 'disk', 'kernel:', 'systemd[1]:', 'INFO', 'eth0', 'link', 'up'];
function text(n) {
  const out = Buffer.alloc(n);
  let off = 0;
  let i = 0;
  while (off < n) off += out.write(`${words[i++ % words.length]} ${(i * 7919) % 100000} `, off);
  return out;
}

const image = join(outDir, 'disk.img');
const fd = openSync(image, 'w');
const MiB = 1024 * 1024;
const total = Number(sizeMiB) * MiB;
ftruncateSync(fd, total);
let pos = 0;
let region = 0;
while (pos < total) {
  const len = Math.min(total - pos, (2 + (region % 5)) * MiB);
  const kind = region % 10; // 3 of 10 zero, 3 text, 4 random
  if (kind >= 3) writeSync(fd, kind < 6 ? text(len) : random(len), 0, len, pos);
  pos += len;
  region++;
}
closeSync(fd);

const dir = join(outDir, 'dir');
rmSync(dir, { recursive: true, force: true });
mkdirSync(join(dir, 'etc/app'), { recursive: true });
mkdirSync(join(dir, 'var/log'), { recursive: true });
writeFileSync(join(dir, 'etc/app/app.conf'), 'listen 0.0.0.0:8080\nworkers 4\n');
writeFileSync(join(dir, 'etc/app/secret.key'), random(64));
chmodSync(join(dir, 'etc/app/secret.key'), 0o600);
writeFileSync(join(dir, 'var/log/app.log'), text(3 * MiB));
writeFileSync(join(dir, 'var/blob.bin'), random(5 * MiB));
symlinkSync('../etc/app/app.conf', join(dir, 'var/app.conf'));
linkSync(join(dir, 'var/log/app.log'), join(dir, 'var/log/app.log.1'));
console.log(`sample image ${image} (${sizeMiB} MiB) and directory ${dir}`);
