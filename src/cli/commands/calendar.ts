import { Command } from 'commander';
import { formatCalendarEvent, formatLocalRfc3339, nextEvents, parseCalendarEvent, parseRfc3339 } from '../../calendar/index.js';
import { GuestvaultError } from '../../errors.js';
import { note, printResult, withOutput, type OutputFormat } from '../output.js';

const MAX_COUNT = 10_000;
/** 0000-01-01T00:00:00Z … 9999-12-31T23:59:59Z */
const MIN_EPOCH = -62_167_219_200;
const MAX_EPOCH = 253_402_300_799;

const SPEC_HELP = `
Calendar events (as in Proxmox VE / Proxmox Backup Server job schedules):
  [WEEKDAYS] [[YYYY-]MM-DD] [[HH:]MM[:SS]] [UTC]      or a keyword
  WEEKDAYS   mon..sun or full names: mon,wed  mon..fri  fri..mon (wraps)
  fields     *  N  N,M  N..M  N/R  N..M/R  */R
  keywords   minutely hourly daily weekly monthly yearly annually quarterly semiannually
  A lone number is a MINUTE: '30' = every hour at :30; '22' is not 22:00 (write 22:00).
  Times are local (TZ) unless the event ends in UTC.`;

const NEXT_HELP = `${SPEC_HELP}

Examples:
  guestvault calendar next 'mon..fri 23:00' --count 5
  guestvault calendar next 'sat *-1..7 15:00' --from 2026-11-27T23:00:00+01:00
  guestvault calendar next '*:0/30' --from 1774740600 --count 4 --output-format json`;

const CHECK_HELP = `${SPEC_HELP}

Examples:
  guestvault calendar check 'mon..fri 23:00'       prints mon..fri *-*-* 23:00:00
  guestvault calendar check weekly --output-format json`;

/** --from: seconds since the epoch or an RFC 3339 timestamp with Z or an offset. */
function parseFrom(text: string): number {
  const epoch = /^-?\d+$/.test(text) ? Number(text) : parseRfc3339(text);
  if (epoch === undefined || !Number.isSafeInteger(epoch) || epoch < MIN_EPOCH || epoch > MAX_EPOCH) {
    throw new GuestvaultError('E_USAGE',
      `--from must be seconds since the epoch or an RFC 3339 time such as 2026-11-27T23:00:00+01:00 (years 0000..9999), not '${text}'`);
  }
  return epoch;
}

function parseCount(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_COUNT) {
    throw new GuestvaultError('E_USAGE', `--count must be a whole number from 1 to ${MAX_COUNT}, not '${text}'`);
  }
  return Number(text);
}

export function calendarCommand(): Command {
  const cmd = new Command('calendar')
    .description('check calendar events (job schedules such as "mon..fri 23:00") and list when they fire');

  withOutput(cmd.command('next')
    .description('print the next times SPEC fires after --from (default now), one RFC 3339 local time per line;'
      + ' JSON: an array of epoch seconds (empty when it never fires again)')
    .argument('<spec>', "calendar event, e.g. 'mon..fri 23:00'")
    .option('--from <time>', 'list events strictly after this time: seconds since the epoch or RFC 3339 (default: now)')
    .option('--count <n>', 'how many events to list', '1')
    .addHelpText('after', NEXT_HELP))
    .action((spec: string, o: { from?: string; count: string; outputFormat: OutputFormat }) => {
      const from = o.from === undefined ? Math.floor(Date.now() / 1000) : parseFrom(o.from);
      const count = parseCount(o.count);
      const event = parseCalendarEvent(spec);
      const events = nextEvents(event, from, count);
      printResult(o.outputFormat, events, () => {
        for (const t of events) process.stdout.write(`${formatLocalRfc3339(t)}\n`);
        if (events.length === 0) note(`'${spec}' does not fire after ${formatLocalRfc3339(from)}`);
      });
    });

  withOutput(cmd.command('check')
    .description('validate SPEC and print its normalised form ([WEEKDAYS ]YYYY-MM-DD HH:MM:SS[ UTC])')
    .argument('<spec>', "calendar event, e.g. 'mon..fri 23:00'")
    .addHelpText('after', CHECK_HELP))
    .action((spec: string, o: { outputFormat: OutputFormat }) => {
      const normalized = formatCalendarEvent(parseCalendarEvent(spec));
      printResult(o.outputFormat, { spec, normalized }, () => process.stdout.write(`${normalized}\n`));
    });
  return cmd;
}
