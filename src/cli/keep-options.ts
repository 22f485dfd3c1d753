import type { Command } from 'commander';
import { GuestvaultError } from '../errors.js';
import { KEEP_COUNT_OPTIONS, parseKeepCount, validateKeepOptions, type KeepCountOption, type KeepOptions } from '../retention/index.js';

const COUNT_HELP: Record<KeepCountOption, string> = {
  'keep-last': 'keep the N newest backups',
  'keep-hourly': 'keep the newest backup of each of the last N hours that have backups',
  'keep-daily': 'keep the newest backup of each of the last N days that have backups',
  'keep-weekly': 'keep the newest backup of each of the last N ISO weeks (Monday to Sunday) that have backups',
  'keep-monthly': 'keep the newest backup of each of the last N months that have backups',
  'keep-yearly': 'keep the newest backup of each of the last N years that have backups',
};

/** Commander's attribute name for an option: keep-daily → keepDaily. */
function attr(option: string): string {
  return option.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Add --keep-all and --keep-last/-hourly/-daily/-weekly/-monthly/-yearly N to a command. Counts
 * are whole numbers >= 0 (0 = not set); anything else, or giving a flag twice, is a
 * GuestvaultError 'E_USAGE' naming the flag. Periods are in local time.
 */
export function addKeepOptionFlags(cmd: Command): Command {
  cmd.option('--keep-all', 'keep every backup (cannot be combined with a positive --keep-* count)');
  for (const option of KEEP_COUNT_OPTIONS) {
    cmd.option(`--${option} <N>`, COUNT_HELP[option], (value: string, previous: unknown) => {
      if (previous !== undefined) throw new GuestvaultError('E_USAGE', `--${option} given more than once`);
      return parseKeepCount(`--${option}`, value);
    });
  }
  return cmd;
}

/**
 * The keep options given as flags (the parsed opts() of a command set up with
 * addKeepOptionFlags), validated; undefined when no keep flag was given, so the caller can fall
 * back to a default (e.g. the datastore's prune-backups).
 */
export function keepOptionsFromFlags(opts: Readonly<Record<string, unknown>>): KeepOptions | undefined {
  const out: Record<string, unknown> = {};
  let given = false;
  for (const option of ['keep-all', ...KEEP_COUNT_OPTIONS]) {
    const value = opts[attr(option)];
    if (value === undefined) continue;
    given = true;
    out[option] = value;
  }
  if (!given) return undefined;
  return validateKeepOptions(out);
}
