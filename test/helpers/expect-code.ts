import { expect } from 'vitest';
import { isGuestvaultError } from '../../src/errors.js';

/** Await a promise that must reject with a GuestvaultError of `code`; returns the error. */
export async function expectCode(p: Promise<unknown>, code: string): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isGuestvaultError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
  return err as Error;
}
