import { GuestvaultError } from '../errors.js';

/**
 * Retention options, named and typed as in Proxmox VE's `prune-backups` property string and
 * Proxmox Backup Server's keep options. A count of 0 means "not set" (PVE semantics); when no
 * count is positive, or `keep-all` is set, every backup is kept.
 */
export type KeepOptions = {
  'keep-all'?: boolean;
  'keep-last'?: number;
  'keep-hourly'?: number;
  'keep-daily'?: number;
  'keep-weekly'?: number;
  'keep-monthly'?: number;
  'keep-yearly'?: number;
};

/** The counted options in the order the prune algorithm applies them (and the canonical text order). */
export const KEEP_COUNT_OPTIONS = ['keep-last', 'keep-hourly', 'keep-daily', 'keep-weekly', 'keep-monthly', 'keep-yearly'] as const;
export type KeepCountOption = (typeof KEEP_COUNT_OPTIONS)[number];

const ALL_KEYS: readonly string[] = ['keep-all', ...KEEP_COUNT_OPTIONS];
const KEEP_ALL_CONFLICT = 'keep-all cannot be set together with other options';

function usage(message: string): GuestvaultError {
  return new GuestvaultError('E_USAGE', message);
}

function isCountOption(key: string): key is KeepCountOption {
  return (KEEP_COUNT_OPTIONS as readonly string[]).includes(key);
}

/** Parse a decimal count as written in a property string or on the command line: digits only. */
export function parseKeepCount(option: string, text: string): number {
  const value = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value)) {
    throw usage(`invalid value '${text}' for ${option}: expected a whole number >= 0`);
  }
  return value;
}

/** Proxmox booleans: 1/0, yes/no, on/off, true/false (any case). */
function parseBool(option: string, text: string): boolean {
  const t = text.toLowerCase();
  if (t === '1' || t === 'yes' || t === 'on' || t === 'true') return true;
  if (t === '0' || t === 'no' || t === 'off' || t === 'false') return false;
  throw usage(`invalid value '${text}' for ${option}: expected 1 or 0`);
}

/** Copy the known keys in canonical order (keep-all first, then last … yearly). */
function ordered(k: KeepOptions): KeepOptions {
  const out: KeepOptions = {};
  if (k['keep-all'] !== undefined) out['keep-all'] = k['keep-all'];
  for (const key of KEEP_COUNT_OPTIONS) if (k[key] !== undefined) out[key] = k[key];
  return out;
}

/**
 * Check options that came from anywhere (JSON, flags, code): only known keys, `keep-all` a
 * boolean, counts whole numbers >= 0, and no `keep-all` together with a positive count.
 * Returns the options with their keys in canonical order; throws GuestvaultError 'E_USAGE'.
 */
export function validateKeepOptions(k: unknown): KeepOptions {
  if (typeof k !== 'object' || k === null || Array.isArray(k)) {
    throw usage(`keep options must be an object, got ${Array.isArray(k) ? 'an array' : String(k)}`);
  }
  const rec = k as Record<string, unknown>;
  for (const [key, value] of Object.entries(rec)) {
    if (value === undefined) continue;
    if (!ALL_KEYS.includes(key)) {
      throw usage(`unknown keep option '${key}' (expected one of ${ALL_KEYS.join(', ')})`);
    }
    if (key === 'keep-all') {
      if (typeof value !== 'boolean') throw usage(`invalid value '${String(value)}' for keep-all: expected a boolean`);
    } else if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw usage(`invalid value '${String(value)}' for ${key}: expected a whole number >= 0`);
    }
  }
  const opts = ordered(rec as KeepOptions);
  if (opts['keep-all'] === true && KEEP_COUNT_OPTIONS.some((o) => (opts[o] ?? 0) > 0)) {
    throw usage(KEEP_ALL_CONFLICT);
  }
  return opts;
}

/**
 * Parse a Proxmox property string such as `keep-daily=3,keep-weekly=2` or `keep-all=1`.
 * Empty string (or only commas/blanks) = {}. Parts are trimmed; each key may appear once.
 * Values are kept as written (including 0); the result has its keys in canonical order.
 */
export function parseKeepOptions(text: string): KeepOptions {
  const out: KeepOptions = {};
  const seen = new Set<string>();
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) throw usage(`invalid keep option '${part}': expected key=value, e.g. keep-daily=3`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!ALL_KEYS.includes(key)) {
      throw usage(`unknown keep option '${key}' in '${text}' (expected one of ${ALL_KEYS.join(', ')})`);
    }
    if (seen.has(key)) throw usage(`duplicate keep option '${key}' in '${text}'`);
    seen.add(key);
    if (key === 'keep-all') out['keep-all'] = parseBool(key, value);
    else if (isCountOption(key)) out[key] = parseKeepCount(key, value);
  }
  return validateKeepOptions(out);
}

/**
 * The canonical property string: positive counts in the order last, hourly, daily, weekly,
 * monthly, yearly; `keep-all=1` when keep-all is set. Zero counts and keep-all=0 are left out,
 * so options that keep nothing specific format as '' (which parses back to the same meaning).
 */
export function formatKeepOptions(k: KeepOptions): string {
  const opts = validateKeepOptions(k);
  if (opts['keep-all'] === true) return 'keep-all=1';
  return KEEP_COUNT_OPTIONS.filter((o) => (opts[o] ?? 0) > 0).map((o) => `${o}=${opts[o]}`).join(',');
}

/** True when the options keep every backup: keep-all is set or no count is positive. */
export function isKeepAll(k: KeepOptions): boolean {
  return k['keep-all'] === true || !KEEP_COUNT_OPTIONS.some((o) => (k[o] ?? 0) > 0);
}

/** Same as isKeepAll: the options select nothing, so nothing is pruned. */
export function keepsNothing(k: KeepOptions): boolean {
  return isKeepAll(k);
}
