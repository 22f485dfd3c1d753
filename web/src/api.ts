/**
 * The client of guestvault's JSON API (/api2/json, Proxmox's `{data}` / `{data: null, message}`
 * shape). The login's CSRF token lives in sessionStorage and goes with every non-GET request; the
 * ticket itself is an HttpOnly cookie the browser sends on its own.
 */

const BASE = '/api2/json';
const CSRF_KEY = 'guestvault.csrf';
const USER_KEY = 'guestvault.user';

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

type Query = Record<string, string | number | boolean | undefined>;
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

let unauthorizedHandler: ((message: string) => void) | undefined;

/** Called with the server's message on any 401 (except a failed login), to go back to the login. */
export function onUnauthorized(handler: (message: string) => void): void {
  unauthorizedHandler = handler;
}

export function storedSession(): { username: string; csrf: string } | undefined {
  const csrf = sessionStorage.getItem(CSRF_KEY);
  const username = sessionStorage.getItem(USER_KEY);
  return csrf && username ? { csrf, username } : undefined;
}

export function clearSession(): void {
  sessionStorage.removeItem(CSRF_KEY);
  sessionStorage.removeItem(USER_KEY);
}

export function apiUrl(path: string, query?: Query): string {
  let url = BASE + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === '' || v === false) continue;
      params.set(k, v === true ? '1' : String(v));
    }
    const qs = params.toString();
    if (qs) url += `?${qs}`;
  }
  return url;
}

/** A path segment (volids and UPIDs hold ':' and '/'). */
export const seg = (s: string | number): string => encodeURIComponent(String(s));

interface Envelope {
  data?: unknown;
  total?: unknown;
  message?: unknown;
}

async function send(method: Method, path: string, body?: unknown, query?: Query): Promise<Envelope> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const csrf = sessionStorage.getItem(CSRF_KEY);
  if (method !== 'GET' && csrf) headers.CSRFPreventionToken = csrf;
  // No content type without a body: the server refuses an empty JSON body.
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(apiUrl(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch (err) {
    throw new ApiError(0, `cannot reach the server: ${err instanceof Error ? err.message : String(err)}`);
  }
  let json: Envelope | undefined;
  const text = await res.text();
  try {
    json = text ? (JSON.parse(text) as Envelope) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const message = typeof json?.message === 'string' && json.message
      ? json.message
      : `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
    const isLogin = path === '/access/ticket' && method === 'POST';
    if (res.status === 401 && !isLogin) unauthorizedHandler?.(message);
    throw new ApiError(res.status, message);
  }
  if (json === undefined) throw new ApiError(res.status, `the server answered ${path} with something that is not JSON`);
  return json;
}

/** The `data` of an answer. The type is the API contract's (docs/api.md); it is not checked at run time. */
export async function api<T>(method: Method, path: string, body?: unknown, query?: Query): Promise<T> {
  return (await send(method, path, body, query)).data as T;
}

export const get = <T>(path: string, query?: Query): Promise<T> => api<T>('GET', path, undefined, query);

/** A list answer with its `total` (task lists, task logs). */
export async function getList<T>(path: string, query?: Query): Promise<{ data: T[]; total: number }> {
  const env = await send('GET', path, undefined, query);
  const data = Array.isArray(env.data) ? (env.data as T[]) : [];
  return { data, total: typeof env.total === 'number' ? env.total : data.length };
}

export interface LoginAnswer {
  username: string;
  ticket: string;
  CSRFPreventionToken: string;
}

export async function login(username: string, password: string): Promise<LoginAnswer> {
  const answer = await api<LoginAnswer>('POST', '/access/ticket', { username, password });
  sessionStorage.setItem(CSRF_KEY, answer.CSRFPreventionToken);
  sessionStorage.setItem(USER_KEY, answer.username);
  return answer;
}

export async function logout(): Promise<void> {
  try {
    await api<null>('DELETE', '/access/ticket');
  } finally {
    clearSession();
  }
}

/** What to show for a failure: the server's message, or the exception's. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
