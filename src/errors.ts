/**
 * The one error type every part throws for expected failures. `code` is stable (tests and
 * scripts match on it); `message` says what was wrong, where, and what to do.
 */
export class GuestvaultError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GuestvaultError';
    this.code = code;
  }
}

export function isGuestvaultError(err: unknown, code?: string): err is GuestvaultError {
  return err instanceof GuestvaultError && (code === undefined || err.code === code);
}

/** Node's own error codes (ENOENT, ENOSPC, …) without `any`. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}
