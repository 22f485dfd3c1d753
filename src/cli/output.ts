import { Option, type Command } from 'commander';

export type OutputFormat = 'text' | 'json' | 'json-pretty';

export function outputFormatOption(): Option {
  return new Option('--output-format <format>', 'output format').choices(['text', 'json', 'json-pretty']).default('text');
}

/** Print data as JSON (for scripts) or let the caller print text. */
export function printResult(format: OutputFormat, data: unknown, text: () => void): void {
  if (format === 'json') process.stdout.write(`${JSON.stringify(data)}\n`);
  else if (format === 'json-pretty') process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else text();
}

/** A plain aligned table: header row, then rows; columns padded to the widest cell. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  process.stdout.write(`${line(headers)}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
}

/** Messages for the user that are not the command's result: stderr, so stdout stays parseable. */
export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}

export function withOutput(cmd: Command): Command {
  return cmd.addOption(outputFormatOption());
}
