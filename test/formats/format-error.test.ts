import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/index.js';
import { GuestvaultError, isGuestvaultError } from '../../src/errors.js';

describe('FormatError', () => {
  it('is a GuestvaultError with a stable code and a message naming the object', () => {
    const err = new FormatError('E_BLOB_CRC', 'chunk 00ff', 'CRC-32 mismatch');
    expect(err).toBeInstanceOf(GuestvaultError);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('E_BLOB_CRC');
    expect(err.message).toBe('chunk 00ff: CRC-32 mismatch');
    expect(err.name).toBe('FormatError');
    expect(isGuestvaultError(err, 'E_BLOB_CRC')).toBe(true);
    expect(isGuestvaultError(err, 'E_BLOB_MAGIC')).toBe(false);
  });
});
