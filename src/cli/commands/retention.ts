import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { errnoCode, GuestvaultError } from '../../errors.js';
import { computePrune, formatKeepOptions, isKeepAll, parseKeepOptions, type KeepOptions, type PruneItem } from '../../retention/index.js';
import { addKeepOptionFlags, keepOptionsFromFlags } from '../keep-options.js';
import { note, printResult, printTable, withOutput, type OutputFormat } from '../output.js';

const SIMULATE_HELP = `
Input: a JSON array, one entry per backup of ONE group, e.g.
  [{"backup-time": 1764111600}, {"backup-time": 1764025200, "protected": true},
   {"backup-time": 1764198000, "finished": false}]
"backup-time" is seconds since the epoch; "protected" and "finished" (false = no manifest yet,
a backup may be running) are optional booleans; other fields are ignored, so the output of
"guestvault snapshots GROUP --output-format json" can be used directly.
Periods (hour, day, ISO week, month, year) are taken in local time (set TZ to change it).

Examples:
  guestvault retention simulate --keep-daily 7 --keep-weekly 4 --input backups.json
  guestvault retention simulate --prune-backups keep-last=3,keep-monthly=6 --input - < backups.json`;

const CHECK_HELP = `
Examples:
  guestvault retention check keep-daily=3,keep-weekly=2,keep-monthly=1
  guestvault retention check 'keep-weekly=4, keep-last=2' --output-format json`;

const READ_ERRORS: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'is a directory' };

async function readInput(file: string): Promise<string> {
  try {
    if (file === '-') {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
      return Buffer.concat(chunks).toString('utf8');
    }
    return await readFile(file, 'utf8');
  } catch (err) {
    const what = file === '-' ? 'standard input' : `'${file}'`;
    const code = errnoCode(err);
    const why = code && READ_ERRORS[code] ? `${READ_ERRORS[code]} (${code})` : (err instanceof Error ? err.message : String(err));
    throw new GuestvaultError('E_INPUT_READ', `cannot read ${what}: ${why}`, { cause: err });
  }
}

/** Parse and check the JSON backup list; errors name the input and the index of the bad entry. */
export function parsePruneInput(text: string, source: string): PruneItem[] {
  const bad = (message: string) => new GuestvaultError('E_INPUT_INVALID', `${source}: ${message}`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw bad(`not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!Array.isArray(data)) throw bad('expected a JSON array of {"backup-time": N, "protected"?: bool, "finished"?: bool}');
  const seen = new Map<number, number>();
  return data.map((entry: unknown, index): PruneItem => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw bad(`entry ${index}: expected an object with "backup-time", got ${JSON.stringify(entry)}`);
    }
    const e = entry as Record<string, unknown>;
    const t = e['backup-time'];
    if (t === undefined) throw bad(`entry ${index}: "backup-time" is missing`);
    if (typeof t !== 'number' || !Number.isSafeInteger(t)) {
      throw bad(`entry ${index}: "backup-time" must be a whole number of seconds since the epoch, got ${JSON.stringify(t)}`);
    }
    const first = seen.get(t);
    if (first !== undefined) throw bad(`entry ${index}: backup-time ${t} already appears in entry ${first} (a group has one backup per time)`);
    seen.set(t, index);
    const item: PruneItem = { 'backup-time': t };
    for (const key of ['protected', 'finished'] as const) {
      const v = e[key];
      if (v === undefined) continue;
      if (typeof v !== 'boolean') throw bad(`entry ${index}: "${key}" must be true or false, got ${JSON.stringify(v)}`);
      item[key] = v;
    }
    return item;
  });
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Local time as YYYY-MM-DD HH:MM:SS. */
function localTime(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

type SimulateOptions = Record<string, unknown> & { input: string; pruneBackups?: string; outputFormat: OutputFormat };

function simulateKeep(o: SimulateOptions): KeepOptions {
  const fromFlags = keepOptionsFromFlags(o);
  if (o.pruneBackups !== undefined) {
    if (fromFlags) throw new GuestvaultError('E_USAGE', '--prune-backups cannot be combined with --keep-* flags');
    return parseKeepOptions(o.pruneBackups);
  }
  return fromFlags ?? {};
}

export function retentionCommand(): Command {
  const cmd = new Command('retention')
    .description('try out keep options (prune-backups) without touching a datastore: see which backups Proxmox-style pruning keeps and why');

  withOutput(addKeepOptionFlags(cmd.command('simulate')
    .description('mark a list of backups of one group keep/remove/protected as prune would, with the reason for each (newest first); nothing is removed')
    .requiredOption('--input <file>', 'JSON file with the backups, or - for standard input')
    .option('--prune-backups <keep>', 'the keep options as a property string instead of --keep-* flags, e.g. keep-daily=3,keep-weekly=2'))
    .addHelpText('after', SIMULATE_HELP))
    .action(async (o: SimulateOptions) => {
      const keep = simulateKeep(o);
      const source = o.input === '-' ? 'standard input' : o.input;
      const items = parsePruneInput(await readInput(o.input), source);
      const decisions = computePrune(items, keep);
      printResult(o.outputFormat, decisions, () => {
        printTable(['backup-time (local)', 'mark', 'reason'], decisions.map((d) => [localTime(d['backup-time']), d.mark, d.reason]));
        const count = (...marks: string[]) => decisions.filter((d) => marks.includes(d.mark)).length;
        const partial = count('keep-partial');
        process.stdout.write(`${count('keep', 'keep-partial')} kept${partial ? ` (${partial} unfinished)` : ''}, ${count('remove')} removed, ${count('protected')} protected`
          + ` (${formatKeepOptions(keep) || 'no keep option: keep everything'})\n`);
      });
    });

  withOutput(cmd.command('check')
    .description('validate a keep-option property string (keep-all=1 or keep-last/-hourly/-daily/-weekly/-monthly/-yearly=N) and print its canonical form')
    .argument('<spec>', "e.g. keep-daily=3,keep-weekly=2,keep-monthly=1 ('' = no option: everything is kept)")
    .addHelpText('after', CHECK_HELP))
    .action((spec: string, o: { outputFormat: OutputFormat }) => {
      const keep = parseKeepOptions(spec);
      printResult(o.outputFormat, keep, () => {
        process.stdout.write(`${formatKeepOptions(keep)}\n`);
        if (isKeepAll(keep)) note('these options keep every backup (nothing is pruned)');
      });
    });
  return cmd;
}
