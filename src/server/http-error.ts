import { GuestvaultError } from '../errors.js';

/** An answer with a given HTTP status and message. */
export class HttpError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
  }
}

/** HTTP status for errors from the rest of guestvault (their stable codes say what kind they are). */
export function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.statusCode;
  const status = (err as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400) return status;
  if (err instanceof GuestvaultError) {
    const c = err.code;
    if (c === 'E_USAGE' || c === 'E_CONFIG_SYNTAX' || c === 'E_CALENDAR' || c === 'E_INPUT_INVALID' || c === 'E_STORAGE_TYPE' || c === 'E_STORAGE_CONTENT') return 400;
    if (c.endsWith('_UNKNOWN') || c === 'E_NOT_FOUND' || c.endsWith('_MISSING')) return 404;
    if (c.endsWith('_EXISTS') || c.includes('LOCK') || c === 'E_PROTECTED' || c === 'E_VM_RUNNING' || c === 'E_VM_NOT_RUNNING' || c === 'E_IN_USE' || c === 'E_STORAGE_IN_USE') return 409;
    if (c === 'E_STORAGE_OFFLINE' || c === 'E_STORAGE_DISABLED') return 503;
  }
  return 500;
}
