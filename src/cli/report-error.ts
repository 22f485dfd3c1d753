import { CommanderError } from 'commander';
import { GuestvaultError } from '../errors.js';

/** Print an error for a human (or as JSON) and return the exit code to use. */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // Help and version end normally; every other parse error is a usage error.
    return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : 2;
  }
  if (err instanceof GuestvaultError) {
    if (process.env.GUESTVAULT_OUTPUT_JSON === '1') {
      process.stderr.write(`${JSON.stringify({ error: err.code, message: err.message })}\n`);
    } else {
      process.stderr.write(`error: ${err.message} [${err.code}]\n`);
    }
    return err.code === 'E_USAGE' ? 2 : 1;
  }
  process.stderr.write(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 70;
}
