#!/usr/bin/env node
// guestvault API benchmark (not a test): how fast the daemon's HTTPS API answers the list of
// 10,000 snapshots (storage contents and the PBS-style snapshot list), against the floor of
// reading the same 10,000 manifest files in one process. See `node bench/api.js --help`.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import console from 'node:console';
import process from 'node:process';

const HERE = dirname(fileURLToPath(import.meta.url));
const PROJECT = resolve(HERE, '..');
const BIN = join(PROJECT, 'bin/guestvault.js');

const HELP = `Usage: node bench/api.js [--snapshots N] [--groups G] [--repeat R]   (or: npm run bench:api -- …)

Fills a fresh datastore with N snapshots (default 10000) in G groups (default 100, vm/100…),
starts the daemon, logs in, and times R requests (default 10) of
  GET /nodes/<node>/storage/local-store/content      (what the GUI's storage page loads)
  GET /admin/datastore/local/snapshots               (the PBS-style list)
against reading the N manifest files in one loop (the floor). Target: under 200 ms.`;

const { values: opts } = parseArgs({
  options: { snapshots: { type: 'string', default: '10000' }, groups: { type: 'string', default: '100' }, repeat: { type: 'string', default: '10' }, help: { type: 'boolean' } },
});
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}
const N = Number(opts.snapshots);
const G = Number(opts.groups);
const R = Number(opts.repeat);

const work = mkdtempSync(join(tmpdir(), 'gv-bench-api-'));
const home = join(work, 'home');
process.env.GUESTVAULT_HOME = home;
const gv = (...args) => spawnSync(process.execPath, [BIN, ...args], { env: process.env, encoding: 'utf8' });

function call(port, method, path, { cookie, body } = {}) {
  return new Promise((res, rej) => {
    const started = process.hrtime.bigint();
    const req = request({
      host: '127.0.0.1', port, method, path, rejectUnauthorized: false,
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(cookie ? { cookie: `GVAuthCookie=${encodeURIComponent(cookie)}` } : {}) },
    }, (r) => {
      const parts = [];
      r.on('data', (d) => parts.push(d)).on('end', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        res({ status: r.statusCode, body: JSON.parse(Buffer.concat(parts).toString('utf8')), bytes: Buffer.concat(parts).length, ms });
      });
    });
    req.on('error', rej);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const fmt = (ms) => `${ms.toFixed(1)} ms`;

let daemon;
try {
  if (gv('init').status !== 0) throw new Error('guestvault init failed');
  // Manifests as a backup writes them (two files per snapshot), written through the datastore code.
  const { Datastore } = await import(join(PROJECT, 'dist/datastore/index.js'));
  const store = Datastore.open('local');
  const t0 = Date.now();
  const start = Math.floor(Date.UTC(2020, 0, 1) / 1000);
  const per = Math.ceil(N / G);
  let made = 0;
  for (let g = 0; g < G && made < N; g++) {
    const group = { ns: [], type: 'vm', id: String(100 + g) };
    mkdirSync(store.groupDir(group), { recursive: true });
    writeFileSync(join(store.groupDir(group), 'owner'), 'root@pam\n');
    for (let i = 0; i < per && made < N; i++, made++) {
      const ref = { ...group, time: start + i * 86400 + g * 60 };
      mkdirSync(store.snapshotDir(ref), { recursive: true });
      store.writeManifest(ref, {
        'backup-type': 'vm', 'backup-id': group.id, 'backup-time': ref.time,
        files: [
          { filename: 'qemu-server.conf.blob', 'crypt-mode': 'none', size: 312, csum: 'a'.repeat(64) },
          { filename: 'drive-scsi0.img.fidx', 'crypt-mode': 'none', size: 34359738368, csum: 'b'.repeat(64) },
        ],
        unprotected: { notes: `vm${group.id} nightly`, chunk_upload_stats: { count: 8192, size: 34359738368, compressed_size: 9876543210, duplicates: 8000 } },
      });
    }
  }
  console.log(`made ${made} snapshots in ${G} groups in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // The floor: read every manifest file once, in one loop.
  const floor = [];
  for (let r = 0; r < R; r++) {
    const s = process.hrtime.bigint();
    for (const gdir of readdirSync(join(store.path, 'vm'))) {
      for (const snap of readdirSync(join(store.path, 'vm', gdir))) {
        if (snap !== 'owner') readFileSync(join(store.path, 'vm', gdir, snap, 'index.json.blob'));
      }
    }
    floor.push(Number(process.hrtime.bigint() - s) / 1e6);
  }

  daemon = spawn(process.execPath, [BIN, 'daemon', '--port', '0', '--listen', '127.0.0.1'], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  daemon.stdout.on('data', (d) => (out += d));
  daemon.stderr.on('data', (d) => (out += d));
  let m;
  for (let i = 0; i < 300 && !(m = /API listening on https:\/\/127\.0\.0\.1:(\d+)\//.exec(out)); i++) await sleep(100);
  if (!m) throw new Error(`daemon did not start: ${out}`);
  const port = Number(m[1]);
  const password = readFileSync(join(home, 'etc/priv/root-password'), 'utf8').trim();
  const login = await call(port, 'POST', '/api2/json/access/ticket', { body: { username: 'root@pam', password } });
  const cookie = login.body.data.ticket;
  const node = (await call(port, 'GET', '/api2/json/nodes', { cookie })).body.data[0].node;

  const rows = [];
  for (const [label, path] of [
    ['storage content', `/api2/json/nodes/${node}/storage/local-store/content`],
    ['datastore snapshots', '/api2/json/admin/datastore/local/snapshots'],
  ]) {
    const times = [];
    let bytes = 0;
    let count = 0;
    for (let r = 0; r < R + 1; r++) {
      const a = await call(port, 'GET', path, { cookie });
      if (a.status !== 200) throw new Error(`${path}: ${a.status} ${a.body.message}`);
      count = a.body.data.length;
      bytes = a.bytes;
      if (r > 0) times.push(a.ms); // the first request warms the page cache
    }
    rows.push({ label, count, bytes, median: median(times), min: Math.min(...times) });
  }

  console.log(`\n${N} snapshots, ${cpus().length} CPUs, ${R} requests each (after one warm-up):`);
  console.log(`${'request'.padEnd(24)}${'entries'.padStart(9)}${'bytes'.padStart(11)}${'median'.padStart(11)}${'min'.padStart(11)}  vs floor  target <200 ms`);
  const f = median(floor);
  console.log(`${'floor: read manifests'.padEnd(24)}${String(N).padStart(9)}${''.padStart(11)}${fmt(f).padStart(11)}${fmt(Math.min(...floor)).padStart(11)}`);
  for (const r of rows) {
    console.log(`${r.label.padEnd(24)}${String(r.count).padStart(9)}${String(r.bytes).padStart(11)}${fmt(r.median).padStart(11)}${fmt(r.min).padStart(11)}  ${(r.median / f).toFixed(2)}x    ${r.median < 200 ? 'MET' : 'NOT MET'}`);
  }
} finally {
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
  }
  rmSync(work, { recursive: true, force: true });
}
