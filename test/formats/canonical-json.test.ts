import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/formats/index.js';

describe('canonicalJson', () => {
  it('sorts object keys and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: 2, c: 'x y' })).toBe('{"a":2,"b":1,"c":"x y"}');
  });

  it('sorts nested objects, keeps array order', () => {
    const value = {
      z: [3, 1, 2, { y: true, x: false }],
      files: [{ size: 10, filename: 'a.fidx', csum: 'ff', 'crypt-mode': 'none' }],
      'backup-type': 'vm',
      'backup-id': '100',
    };
    expect(canonicalJson(value)).toBe(
      '{"backup-id":"100","backup-type":"vm",' +
        '"files":[{"crypt-mode":"none","csum":"ff","filename":"a.fidx","size":10}],' +
        '"z":[3,1,2,{"x":false,"y":true}]}',
    );
  });

  it('orders keys by code point, byte-wise like Rust (uppercase, punctuation, non-ASCII)', () => {
    expect(canonicalJson({ b: 0, a_b: 0, 'a-b': 0, aa: 0, B: 0, a: 0 })).toBe('{"B":0,"a":0,"a-b":0,"a_b":0,"aa":0,"b":0}');
    // U+FF61 sorts before U+1F600 in UTF-8 byte order, although its UTF-16 code unit is larger.
    expect(canonicalJson({ '\u{1F600}': 1, '\uFF61': 2, é: 3 })).toBe('{"é":3,"\uFF61":2,"\u{1F600}":1}');
  });

  it('writes scalars like serde_json', () => {
    expect(canonicalJson('a"b\\c\n\t\u0001ä')).toBe('"a\\"b\\\\c\\n\\t\\u0001ä"');
    expect(canonicalJson('a/b')).toBe('"a/b"');
    expect(canonicalJson(0)).toBe('0');
    expect(canonicalJson(-17)).toBe('-17');
    expect(canonicalJson(34359738368)).toBe('34359738368');
    expect(canonicalJson(true)).toBe('true');
    expect(canonicalJson([])).toBe('[]');
    expect(canonicalJson({})).toBe('{}');
    expect(canonicalJson({ 'k"ey': [{}] })).toBe('{"k\\"ey":[{}]}');
  });

  it('does not depend on insertion order', () => {
    const a = canonicalJson({ x: { p: 1, q: 2 }, y: [1] });
    const b = canonicalJson({ y: [1], x: { q: 2, p: 1 } });
    expect(a).toBe(b);
    expect(a).toBe('{"x":{"p":1,"q":2},"y":[1]}');
  });

  it('rejects null anywhere', () => {
    expect(() => canonicalJson(null)).toThrow(TypeError);
    expect(() => canonicalJson({ a: null })).toThrow(/null/);
    expect(() => canonicalJson({ a: { b: [1, null] } })).toThrow(TypeError);
    expect(() => canonicalJson([null])).toThrow(TypeError);
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
  });

  it('omits properties whose value is undefined', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });
});
