/**
 * The daemon's HTTPS API against a daemon started here: the self-signed certificate, first-start
 * admin access, login with ticket and CSRF token, and what is refused (no ticket, a wrong or
 * forged one, an expired one, no CSRF token, bad JSON, unknown fields, oversized bodies).
 */
import type { ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliEnv } from '../helpers/cli.js';

const env = new CliEnv('gv-api-');
let daemon: ChildProcess;
let port = 0;
let fingerprint = '';
let out = '';

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: { data: unknown; message?: string }; peer: string; ms: number }

function call(method: string, path: string, opts: { body?: string; cookie?: string; csrf?: string; type?: string } = {}): Promise<Answer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, method, path, rejectUnauthorized: false,
      headers: {
        ...(opts.body !== undefined ? { 'content-type': opts.type ?? 'application/json' } : {}),
        ...(opts.cookie ? { cookie: `GVAuthCookie=${encodeURIComponent(opts.cookie)}` } : {}),
        ...(opts.csrf ? { CSRFPreventionToken: opts.csrf } : {}),
      },
    }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => {
        resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text || 'null'), peer, ms: Date.now() - started });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const login = (username: string, password: string) => call('POST', '/api2/json/access/ticket', { body: JSON.stringify({ username, password }) });

beforeAll(async () => {
  expect(env.run(['init']).code).toBe(0);
  daemon = env.spawn(['daemon', '--port', '0', '--listen', '127.0.0.1']);
  daemon.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  daemon.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  for (let i = 0; i < 300 && !/API listening on https:\/\/127\.0\.0\.1:(\d+)\//.test(out); i++) await new Promise((r) => setTimeout(r, 100));
  const m = /API listening on https:\/\/127\.0\.0\.1:(\d+)\/ \(certificate SHA-256 fingerprint ([0-9A-F:]+)\)/.exec(out);
  expect(m, out).toBeTruthy();
  port = Number(m![1]);
  fingerprint = m![2]!;
}, 60_000);

afterAll(async () => {
  if (daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
  }
  env.cleanup();
});

describe('HTTPS API', () => {
  it('serves with the self-signed certificate whose fingerprint `cert info` shows', async () => {
    const info = env.json<{ fingerprint: string; subject: string }>(['cert', 'info']);
    expect(info.fingerprint).toBe(fingerprint);
    const r = await call('GET', '/api2/json/version');
    expect(r.peer).toBe(fingerprint);
    expect(statSync(join(env.home, 'etc', 'priv', 'api.key')).mode & 0o777).toBe(0o600);
  });

  it('first start: root@pam with a random password in a private file, never in the log', async () => {
    const file = join(env.home, 'etc', 'priv', 'root-password');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const password = readFileSync(file, 'utf8').trim();
    expect(password.length).toBeGreaterThanOrEqual(16);
    expect(out).toContain(`log in as root@pam with the password in ${file}`);
    expect(out).not.toContain(password);
  });

  it('login: a ticket cookie (HttpOnly, Secure, SameSite) and a CSRF token; then the API answers', async () => {
    const password = readFileSync(join(env.home, 'etc', 'priv', 'root-password'), 'utf8').trim();
    const r = await login('root@pam', password);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const data = r.body.data as { username: string; ticket: string; CSRFPreventionToken: string };
    expect(data.username).toBe('root@pam');
    expect(String(r.headers['set-cookie'])).toMatch(/^GVAuthCookie=.+; Path=\/; Secure; HttpOnly; SameSite=Strict; Max-Age=7200$/);
    const v = await call('GET', '/api2/json/version', { cookie: data.ticket });
    expect(v.status).toBe(200);
    expect(v.body.data).toEqual({ version: JSON.parse(readFileSync('package.json', 'utf8')).version, release: '0.1', node: expect.any(String) });
    // A change needs the CSRF token: without it 401, with it the request gets through (to a 404: no such POST).
    const noCsrf = await call('POST', '/api2/json/nodes', { cookie: data.ticket, body: '{}' });
    expect(noCsrf.status).toBe(401);
    expect(noCsrf.body.message).toMatch(/CSRF token/);
    const withCsrf = await call('POST', '/api2/json/nodes', { cookie: data.ticket, csrf: data.CSRFPreventionToken, body: '{}' });
    expect(withCsrf.status).toBe(404);
    // Another user's CSRF token does not fit this ticket.
    const wrongCsrf = await call('POST', '/api2/json/nodes', { cookie: data.ticket, csrf: data.CSRFPreventionToken.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), body: '{}' });
    expect(wrongCsrf.status).toBe(401);
  });

  it('refuses: no ticket, a forged or expired ticket, a wrong password or unknown user (alike, after a delay)', async () => {
    const none = await call('GET', '/api2/json/nodes');
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ data: null, message: 'authentication required: log in first' });
    const forged = await call('GET', '/api2/json/nodes', { cookie: `GV:root@pam:${Math.floor(Date.now() / 1000).toString(16).toUpperCase()}::AAAA` });
    expect(forged.status).toBe(401);
    // A correctly signed ticket that is three hours old.
    const key = Buffer.from(readFileSync(join(env.home, 'etc', 'priv', 'authkey.key'), 'utf8').trim(), 'hex');
    const body = `GV:root@pam:${(Math.floor(Date.now() / 1000) - 3 * 3600).toString(16).toUpperCase()}`;
    const old = await call('GET', '/api2/json/nodes', { cookie: `${body}::${createHmac('sha256', key).update(body).digest('base64url')}` });
    expect(old.status).toBe(401);
    expect(old.body.message).toMatch(/invalid or expired ticket/);
    const [wrong, unknown] = await Promise.all([login('root@pam', 'not-the-password'), login('mallory@gv', 'not-the-password')]);
    for (const r of [wrong, unknown]) {
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ data: null, message: 'authentication failure' });
      expect(r.ms).toBeGreaterThanOrEqual(1900);
    }
  });

  it('bad requests: malformed JSON, unknown fields, oversized bodies, unknown paths', async () => {
    expect((await call('POST', '/api2/json/access/ticket', { body: '{"username": "root@pam",' })).status).toBe(400);
    const extra = await call('POST', '/api2/json/access/ticket', { body: JSON.stringify({ username: 'root@pam', password: 'x', admin: true }) });
    expect(extra.status).toBe(400);
    expect(extra.body.message).toMatch(/additional properties/);
    expect((await call('POST', '/api2/json/access/ticket', { body: JSON.stringify({ username: 'root@pam', password: 'x'.repeat(70_000) }) })).status).toBe(413);
    const missing = await call('GET', '/api2/json/../../etc/passwd');
    expect([401, 404]).toContain(missing.status);
  });

  it('stops cleanly on SIGTERM', async () => {
    daemon.kill('SIGTERM');
    const code = await new Promise((r) => daemon.once('exit', r));
    expect(code).toBe(0);
    expect(out).toContain('guestvault daemon stopped');
  });
});
