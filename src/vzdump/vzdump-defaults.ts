/**
 * `GUESTVAULT_HOME/etc/vzdump.conf`: defaults for every vzdump run (command line and jobs), as
 * Proxmox reads /etc/vzdump.conf — `option: value` lines, `#` comments. What the command line
 * or the job says wins over the file, which wins over the built-in defaults.
 */
import { readConfigText } from '../config-file.js';
import { GuestvaultError } from '../errors.js';
import { etcPath } from '../home.js';
import { parseKeepOptions } from '../retention/index.js';
import { parseCompress } from '../storage/index.js';
import type { VzdumpOptions } from './run-vzdump.js';

export function vzdumpConfFile(): string {
  return etcPath('vzdump.conf');
}

type Value = string | number | boolean;

function int(min: number, max: number): (v: string) => number {
  return (v) => {
    if (!/^-?\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new Error(`expected a whole number from ${min} to ${max}`);
    return Number(v);
  };
}

function bool(v: string): boolean {
  if (v !== '0' && v !== '1') throw new Error('expected 0 or 1');
  return v === '1';
}

/** The options the file may set, with their checks; the value as VzdumpOptions holds it. */
const OPTIONS: Record<string, (v: string) => Value> = {
  storage: (v) => v,
  dumpdir: (v) => v,
  mode: (v) => {
    if (!['snapshot', 'suspend', 'stop'].includes(v)) throw new Error('expected snapshot, suspend or stop');
    return v;
  },
  compress: (v) => {
    parseCompress(v);
    return v;
  },
  zstd: int(0, 256),
  pigz: int(0, 256),
  bwlimit: int(0, 2 ** 31),
  ionice: int(0, 8),
  lockwait: int(0, 2 ** 31),
  stopwait: int(0, 2 ** 31),
  script: (v) => v,
  'prune-backups': (v) => {
    parseKeepOptions(v);
    return v;
  },
  remove: bool,
  protected: bool,
  'notes-template': (v) => v,
};

/** Proxmox options guestvault does not use: a file that sets them still works, with a warning. */
const IGNORED = new Set(['tmpdir', 'mailto', 'mailnotification', 'notification-mode', 'performance', 'fleecing', 'pbs-change-detection-mode', 'exclude-path', 'stdexcludes', 'quiet', 'maxfiles']);

export interface VzdumpDefaults {
  values: Partial<Record<string, Value>>;
  warnings: string[];
}

/** Reads vzdump.conf (none: no defaults); a line that cannot be used is an error naming file and line. */
export function readVzdumpDefaults(file = vzdumpConfFile()): VzdumpDefaults {
  const text = readConfigText(file);
  if (text === undefined) return { values: {}, warnings: [] };
  const values: Partial<Record<string, Value>> = {};
  const warnings: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^([a-z][a-z0-9-]*):\s*(.*)$/.exec(line);
    if (!m) throw new GuestvaultError('E_CONFIG_SYNTAX', `${file}:${i + 1}: cannot parse '${line}' (expected 'option: value')`);
    const [, key, value] = m as unknown as [string, string, string];
    if (IGNORED.has(key)) {
      warnings.push(`${file}:${i + 1}: '${key}' is not used by guestvault; ignored`);
      return;
    }
    const parse = OPTIONS[key];
    if (!parse) throw new GuestvaultError('E_CONFIG_SYNTAX', `${file}:${i + 1}: unknown option '${key}' (known: ${Object.keys(OPTIONS).join(', ')})`);
    try {
      values[key] = parse(value);
    } catch (err) {
      throw new GuestvaultError('E_CONFIG_SYNTAX', `${file}:${i + 1}: invalid ${key} '${value}': ${(err as Error).message}`);
    }
  });
  if (values.storage !== undefined && values.dumpdir !== undefined) {
    warnings.push(`${file}: sets both storage and dumpdir; dumpdir is ignored`);
    delete values.dumpdir;
  }
  return { values, warnings };
}

/** What a run asks for; anything left out comes from vzdump.conf, then from the built-in defaults. */
export type VzdumpRequest = Partial<VzdumpOptions>;

/**
 * The options of a run: the request, then vzdump.conf, then the built-in defaults. The file's
 * storage or dumpdir apply only when the request names neither; notes and protection from the
 * file are dropped when the target is not a storage (a dump directory or stdout).
 */
export function withVzdumpDefaults(req: VzdumpRequest, defaults: VzdumpDefaults = readVzdumpDefaults()): VzdumpOptions {
  const file = { ...defaults.values };
  if (req.storage !== undefined || req.dumpdir !== undefined || req.stdout) {
    delete file.storage;
    delete file.dumpdir;
  }
  const given = Object.fromEntries(Object.entries(req).filter(([, v]) => v !== undefined)) as VzdumpRequest;
  const merged = { ...(file as VzdumpRequest), ...given };
  if (merged.storage === undefined && (merged.dumpdir !== undefined || merged.stdout)) {
    if (given['notes-template'] === undefined) delete merged['notes-template'];
    if (given.protected === undefined) delete merged.protected;
  }
  return {
    mode: 'snapshot',
    stopwait: 10,
    lockwait: 180,
    remove: true,
    zstd: 1,
    pigz: 0,
    ionice: 7,
    ...merged,
  } as VzdumpOptions;
}
