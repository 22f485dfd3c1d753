/** A daemon started on a test's GUESTVAULT_HOME, and a client of its HTTPS API (ticket + CSRF, or an API token). */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { CliEnv } from './cli.js';

export interface Answer<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { data: T; message?: string; total?: number };
  /** The raw body (for downloads). */
  raw: Buffer;
  peer: string;
  ms: number;
}

export interface Credentials {
  cookie?: string;
  csrf?: string;
  /** `user@realm!name:secret` */
  token?: string;
}

export function apiCall<T = unknown>(port: number, method: string, path: string, opts: Credentials & { body?: unknown; rawBody?: string; type?: string } = {}): Promise<Answer<T>> {
  const started = Date.now();
  const payload = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, method, path, rejectUnauthorized: false,
      headers: {
        ...(payload !== undefined ? { 'content-type': opts.type ?? 'application/json' } : {}),
        ...(opts.cookie ? { cookie: `GVAuthCookie=${encodeURIComponent(opts.cookie)}` } : {}),
        ...(opts.csrf ? { CSRFPreventionToken: opts.csrf } : {}),
        ...(opts.token ? { authorization: `GVAPIToken=${opts.token}` } : {}),
      },
    }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d)).on('end', () => {
        const raw = Buffer.concat(parts);
        let body: Answer<T>['body'];
        try {
          body = JSON.parse(raw.toString('utf8') || 'null') as Answer<T>['body'];
        } catch {
          body = { data: undefined as T };
        }
        resolve({ status: res.statusCode!, headers: res.headers, body, raw, peer, ms: Date.now() - started });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export class TestDaemon {
  port = 0;
  fingerprint = '';
  out = '';
  private constructor(readonly proc: ChildProcess, readonly env: CliEnv) {}

  static async start(env: CliEnv, extraEnv: Record<string, string> = {}): Promise<TestDaemon> {
    const d = new TestDaemon(env.spawn(['daemon', '--port', '0', '--listen', '127.0.0.1'], { env: extraEnv }), env);
    d.proc.stdout!.on('data', (b: Buffer) => (d.out += b.toString()));
    d.proc.stderr!.on('data', (b: Buffer) => (d.out += b.toString()));
    const re = /API listening on https:\/\/127\.0\.0\.1:(\d+)\/ \(certificate SHA-256 fingerprint ([0-9A-F:]+)\)/;
    for (let i = 0; i < 600 && !re.test(d.out) && d.proc.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
    const m = re.exec(d.out);
    if (!m) throw new Error(`daemon did not start: ${d.out}`);
    d.port = Number(m[1]);
    d.fingerprint = m[2]!;
    return d;
  }

  rootPassword(): string {
    return readFileSync(join(this.env.home, 'etc', 'priv', 'root-password'), 'utf8').trim();
  }

  async login(username = 'root@pam', password = this.rootPassword()): Promise<ApiClient> {
    const r = await apiCall<{ ticket: string; CSRFPreventionToken: string }>(this.port, 'POST', '/api2/json/access/ticket', { body: { username, password } });
    if (r.status !== 200) throw new Error(`login of ${username} failed: ${r.status} ${r.body.message}`);
    return new ApiClient(this.port, { cookie: r.body.data.ticket, csrf: r.body.data.CSRFPreventionToken });
  }

  withToken(token: string): ApiClient {
    return new ApiClient(this.port, { token });
  }

  anonymous(): ApiClient {
    return new ApiClient(this.port, {});
  }

  async stop(): Promise<number | null> {
    if (this.proc.exitCode !== null) return this.proc.exitCode;
    this.proc.kill('SIGTERM');
    return new Promise((r) => this.proc.once('exit', (code) => r(code)));
  }
}

export class ApiClient {
  constructor(readonly port: number, readonly creds: Credentials) {}

  call<T = unknown>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
    return apiCall<T>(this.port, method, `/api2/json${path}`, { ...this.creds, body });
  }

  get<T = unknown>(path: string) {
    return this.call<T>('GET', path);
  }

  /** GET that must succeed; returns data. */
  async data<T = unknown>(path: string): Promise<T> {
    const r = await this.get<T>(path);
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.body.message}`);
    return r.body.data;
  }

  /** Waits for a task to end; returns its exit status. */
  async waitTask(node: string, upid: string, timeoutMs = 180_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const st = await this.data<{ status: string; exitstatus?: string }>(`/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`);
      if (st.status === 'stopped') return st.exitstatus ?? '';
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`task ${upid} did not end within ${timeoutMs} ms`);
  }

  async taskLog(node: string, upid: string): Promise<string> {
    const lines = await this.data<Array<{ t: string }>>(`/nodes/${node}/tasks/${encodeURIComponent(upid)}/log?limit=50000`);
    return lines.map((l) => l.t).join('\n');
  }
}
