import { GuestvaultError } from '../errors.js';

/** A byte sequence that is not what its reader expects. `what` names the file or chunk. */
export class FormatError extends GuestvaultError {
  constructor(code: string, what: string, detail: string) {
    super(code, `${what}: ${detail}`);
    this.name = 'FormatError';
  }
}
