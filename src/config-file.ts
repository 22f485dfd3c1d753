import { readFileSync } from 'node:fs';
import { GuestvaultError, errnoCode } from './errors.js';

/** A configuration file's text, or undefined when there is no such file (the defaults apply). */
export function readConfigText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new GuestvaultError('E_CONFIG_READ', `cannot read ${file}: ${(err as Error).message}`);
  }
}
