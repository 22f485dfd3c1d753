import { readFileSync } from 'node:fs';
import { parseCalendarEvent } from '../calendar/index.js';
import { GuestvaultError, errnoCode } from '../errors.js';
import { parseSectionConfig, writeSectionConfig, type Section } from '../formats/index.js';
import { etcPath } from '../home.js';
import { formatKeepOptions, parseKeepOptions } from '../retention/index.js';
import { writeFileAtomic } from '../atomic-file.js';

/**
 * A backup job of jobs.cfg (`vzdump: <id>`), with the keys Proxmox VE uses. `host-backup` is
 * our extension: host paths backed up as `host/<node>` until guests of other kinds exist.
 */
export interface BackupJob {
  id: string;
  schedule: string;
  enabled: boolean;
  'repeat-missed': boolean;
  comment?: string;
  vmid?: string[];
  all?: boolean;
  exclude?: string[];
  pool?: string;
  node?: string;
  storage?: string;
  mode: 'snapshot' | 'suspend' | 'stop';
  compress?: string;
  'prune-backups'?: string;
  'notes-template'?: string;
  protected?: boolean;
  bwlimit?: number;
  lockwait?: number;
  mailto?: string[];
  mailnotification?: 'always' | 'failure';
  'notification-mode'?: 'auto' | 'legacy-sendmail' | 'notification-system';
  script?: string;
  'host-backup'?: string[];
}

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$/;
const VMID = /^[1-9][0-9]{2,8}$/;
const HOST_SPEC = /^[A-Za-z0-9_][A-Za-z0-9._-]*\.(tar|img|conf):\/.+$/;

type Parser = (v: string) => unknown;
const bool: Parser = (v) => {
  if (v === '1' || v === '0') return v === '1';
  throw new Error(`expected 0 or 1, not '${v}'`);
};
const list = (re?: RegExp, what = 'value'): Parser => (v) => {
  const items = v.split(/[,;\s]+/).filter(Boolean);
  if (items.length === 0) throw new Error('empty list');
  for (const i of items) if (re && !re.test(i)) throw new Error(`invalid ${what} '${i}'`);
  return items;
};
const int = (min: number, max: number): Parser => (v) => {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new Error(`expected an integer from ${min} to ${max}, not '${v}'`);
  return Number(v);
};
const oneOf = (...allowed: string[]): Parser => (v) => {
  if (!allowed.includes(v)) throw new Error(`expected one of ${allowed.join(', ')}, not '${v}'`);
  return v;
};
const text = (max: number): Parser => (v) => {
  if (v.length > max) throw new Error(`longer than ${max} characters`);
  return v;
};

const KEYS: Record<string, Parser> = {
  schedule: (v) => {
    if (v.length > 128) throw new Error('longer than 128 characters');
    parseCalendarEvent(v);
    return v;
  },
  enabled: bool,
  'repeat-missed': bool,
  comment: text(512),
  vmid: list(VMID, 'guest id'),
  all: bool,
  exclude: list(VMID, 'guest id'),
  pool: text(64),
  node: (v) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(v)) throw new Error(`invalid node name '${v}'`);
    return v;
  },
  storage: (v) => {
    if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(v)) throw new Error(`invalid storage id '${v}'`);
    return v;
  },
  mode: oneOf('snapshot', 'suspend', 'stop'),
  compress: oneOf('0', '1', 'gzip', 'lzo', 'zstd'),
  'prune-backups': (v) => formatKeepOptions(parseKeepOptions(v)) || 'keep-all=1',
  'notes-template': text(1024),
  protected: bool,
  bwlimit: int(0, 2 ** 31),
  lockwait: int(0, 10080),
  mailto: list(/^[^\s,;]+$/, 'address'),
  mailnotification: oneOf('always', 'failure'),
  'notification-mode': oneOf('auto', 'legacy-sendmail', 'notification-system'),
  script: (v) => {
    if (!v.startsWith('/')) throw new Error(`hook script must be an absolute path, not '${v}'`);
    return v;
  },
  'host-backup': (v) => list(HOST_SPEC, 'host backup spec (NAME.tar:/DIR, NAME.img:/FILE or NAME.conf:/FILE)')(v.replace(/\s+/g, ',')),
};

export function jobsConfigFile(): string {
  return etcPath('jobs.cfg');
}

function jobFromProps(id: string, props: Record<string, string>): BackupJob {
  if (!JOB_ID.test(id)) throw new Error(`invalid job id '${id}': up to 50 letters, digits, '_', '.', '-'`);
  if (props.schedule === undefined) throw new Error('missing required key \'schedule\'');
  const job: Record<string, unknown> = { id, enabled: true, 'repeat-missed': false, mode: 'snapshot' };
  for (const [k, v] of Object.entries(props)) {
    const parse = KEYS[k];
    if (!parse) throw new Error(`unknown key '${k}'`);
    try {
      job[k] = parse(v);
    } catch (err) {
      throw new Error(`${k}: ${(err as Error).message}`);
    }
  }
  const selections = ['vmid', 'all', 'pool'].filter((k) => job[k] !== undefined && job[k] !== false);
  if (selections.length > 1) throw new Error(`choose one guest selection: ${selections.join(', ')} are set`);
  if (job.exclude && !job.all) throw new Error('exclude needs all 1');
  if (selections.length === 0 && !job['host-backup']) throw new Error('selects nothing: set vmid, all 1, pool or host-backup');
  return job as unknown as BackupJob;
}

export interface JobsLoad {
  jobs: BackupJob[];
  /** Sections that could not be loaded: the daemon runs the others and logs these. */
  errors: { id?: string; line: number; message: string }[];
}

/** Load jobs.cfg, keeping valid jobs and reporting each invalid one with file and line. */
export function loadJobs(): JobsLoad {
  const file = jobsConfigFile();
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { jobs: [], errors: [] };
    throw new GuestvaultError('E_CONFIG_READ', `cannot read ${file}: ${(err as Error).message}`);
  }
  const out: JobsLoad = { jobs: [], errors: [] };
  let sections: Section[];
  try {
    sections = parseSectionConfig(raw, file, (message) => out.errors.push({ line: 0, message }));
  } catch (err) {
    return { jobs: [], errors: [{ line: 0, message: (err as Error).message }] };
  }
  for (const s of sections) {
    try {
      if (s.type !== 'vzdump') throw new Error(`unknown section type '${s.type}' (expected 'vzdump')`);
      out.jobs.push(jobFromProps(s.id, s.props));
    } catch (err) {
      out.errors.push({ id: s.id, line: s.line, message: `${file}:${s.line}: job '${s.id}': ${(err as Error).message}` });
    }
  }
  return out;
}

/** Load jobs.cfg strictly (for commands that change it): any invalid section is an error. */
export function loadJobsStrict(): BackupJob[] {
  const { jobs, errors } = loadJobs();
  if (errors.length) throw new GuestvaultError('E_CONFIG_SYNTAX', errors.map((e) => e.message).join('\n'));
  return jobs;
}

/** Validate a job given as properties (from the CLI or API); throws E_USAGE naming the problem. */
export function makeJob(id: string, props: Record<string, string>): BackupJob {
  try {
    return jobFromProps(id, props);
  } catch (err) {
    throw new GuestvaultError('E_USAGE', `job '${id}': ${(err as Error).message}`);
  }
}

export function jobToProps(job: BackupJob): Record<string, string> {
  const props: Record<string, string> = { schedule: job.schedule };
  const rest: [string, string][] = [];
  for (const [k, v] of Object.entries(job)) {
    if (k === 'id' || k === 'schedule' || v === undefined) continue;
    rest.push([k, Array.isArray(v) ? v.join(',') : typeof v === 'boolean' ? (v ? '1' : '0') : String(v)]);
  }
  // Proxmox writes required keys first, then the others in alphabetical order.
  for (const [k, v] of rest.sort(([a], [b]) => (a < b ? -1 : 1))) props[k] = v;
  return props;
}

export function saveJobs(jobs: readonly BackupJob[]): void {
  const file = jobsConfigFile();
  writeFileAtomic(file, writeSectionConfig(jobs.map((j) => ({ type: 'vzdump', id: j.id, props: jobToProps(j) }))));
}

/** The product's default: all guests on all nodes, Mon–Fri 23:00 and Sun 01:00, keep 3 daily, 2 weekly, 1 monthly. */
export function defaultJobs(storage: string): BackupJob[] {
  const common = { enabled: true, 'repeat-missed': false, all: true, storage, mode: 'snapshot' as const, 'prune-backups': 'keep-daily=3,keep-weekly=2,keep-monthly=1', 'notes-template': '{{guestname}}' };
  return [
    { id: 'default-weekdays', schedule: 'mon..fri 23:00', comment: 'default backup of all guests on weekdays', ...common },
    { id: 'default-sunday', schedule: 'sun 01:00', comment: 'default backup of all guests on Sundays', ...common },
  ];
}
