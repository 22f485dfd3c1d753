import { Command } from 'commander';
import { vzdumpCommand } from './commands/vzdump.js';
import { reportError } from './report-error.js';
import { VERSION } from './version.js';

/**
 * `guestvault vzdump …` (and `vzdump …`) run in this process, when no daemon took it (see
 * vzdump-client.ts), without loading the other commands (program.ts loads every command's
 * code). Parsing, help and errors are those of the full program: it is the same command.
 */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('guestvault').version(VERSION).showHelpAfterError().exitOverride();
  program.addCommand(vzdumpCommand().exitOverride().showHelpAfterError());
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = reportError(err);
  }
}
