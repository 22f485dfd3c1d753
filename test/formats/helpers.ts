import { createCipheriv, createHash } from 'node:crypto';
import { expect } from 'vitest';
import { FormatError } from '../../src/formats/index.js';

export function sha256(...parts: (string | Uint8Array)[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Deterministic pseudo-random bytes: the AES-256-CTR key stream of a seed. */
export function seededBytes(length: number, seed: number): Buffer {
  const key = sha256(`guestvault test seed ${seed}`);
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const out = cipher.update(Buffer.alloc(length));
  cipher.final();
  return out;
}

/** Compressible test data (text with some variety). */
export function textData(length: number): Buffer {
  const parts: string[] = [];
  let total = 0;
  for (let i = 0; total < length; i++) {
    const line = `line ${i}: the quick brown fox jumps over the lazy dog ${i % 17}\n`;
    parts.push(line);
    total += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, length);
}

/** The error `fn` throws; fails the test if it returns normally. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw, but it returned');
}

/** `fn` must throw a FormatError with this code whose message names `what` (when given). */
export function expectFormatError(fn: () => unknown, code: string, what?: string): FormatError {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(FormatError);
  const fe = err as FormatError;
  expect(fe.code).toBe(code);
  if (what !== undefined) expect(fe.message.startsWith(`${what}: `)).toBe(true);
  return fe;
}

/** A copy of `buf` with byte `offset` XOR-ed with `mask`. */
export function flipByte(buf: Uint8Array, offset: number, mask = 0x01): Buffer {
  const copy = Buffer.from(buf);
  copy[offset] = copy[offset]! ^ mask;
  return copy;
}
