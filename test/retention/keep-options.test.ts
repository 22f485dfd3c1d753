import { describe, expect, it } from 'vitest';
import { formatKeepOptions, isKeepAll, keepsNothing, parseKeepOptions, validateKeepOptions, type KeepOptions } from '../../src/retention/index.js';
import { expectUsageError } from './helpers.js';

const valid: Array<{ text: string; parsed: KeepOptions; canonical: string; keepAll: boolean }> = [
  { text: '', parsed: {}, canonical: '', keepAll: true },
  { text: ' , ', parsed: {}, canonical: '', keepAll: true },
  { text: 'keep-daily=3,keep-weekly=2,keep-monthly=1', parsed: { 'keep-daily': 3, 'keep-weekly': 2, 'keep-monthly': 1 }, canonical: 'keep-daily=3,keep-weekly=2,keep-monthly=1', keepAll: false },
  { text: 'keep-yearly=1,keep-last=2', parsed: { 'keep-last': 2, 'keep-yearly': 1 }, canonical: 'keep-last=2,keep-yearly=1', keepAll: false },
  { text: ' keep-hourly = 24 , keep-daily=7,', parsed: { 'keep-hourly': 24, 'keep-daily': 7 }, canonical: 'keep-hourly=24,keep-daily=7', keepAll: false },
  { text: 'keep-all=1', parsed: { 'keep-all': true }, canonical: 'keep-all=1', keepAll: true },
  { text: 'keep-all=0', parsed: { 'keep-all': false }, canonical: '', keepAll: true },
  { text: 'keep-all=0,keep-last=1', parsed: { 'keep-all': false, 'keep-last': 1 }, canonical: 'keep-last=1', keepAll: false },
  { text: 'keep-all=1,keep-daily=0', parsed: { 'keep-all': true, 'keep-daily': 0 }, canonical: 'keep-all=1', keepAll: true },
  { text: 'keep-daily=0,keep-weekly=0', parsed: { 'keep-daily': 0, 'keep-weekly': 0 }, canonical: '', keepAll: true },
  { text: 'keep-weekly=0,keep-monthly=5', parsed: { 'keep-weekly': 0, 'keep-monthly': 5 }, canonical: 'keep-monthly=5', keepAll: false },
  { text: 'keep-all=yes', parsed: { 'keep-all': true }, canonical: 'keep-all=1', keepAll: true },
  { text: 'keep-last=007', parsed: { 'keep-last': 7 }, canonical: 'keep-last=7', keepAll: false },
];

const invalid: Array<{ text: string; mentions: string[] }> = [
  { text: 'keep-daily=-1', mentions: ['keep-daily', "'-1'"] },
  { text: 'keep-daily=x', mentions: ['keep-daily', "'x'"] },
  { text: 'keep-daily=1.5', mentions: ['keep-daily', "'1.5'"] },
  { text: 'keep-daily=', mentions: ['keep-daily', "''"] },
  { text: 'keep-daily=1e3', mentions: ['keep-daily', '1e3'] },
  { text: 'keep-daily=99999999999999999999', mentions: ['keep-daily'] },
  { text: 'keep-fortnightly=2', mentions: ["'keep-fortnightly'"] },
  { text: 'keep-daily=2,keep-daily=3', mentions: ['duplicate', "'keep-daily'"] },
  { text: 'keep-daily', mentions: ['key=value', "'keep-daily'"] },
  { text: 'keep-all=2', mentions: ['keep-all', "'2'"] },
  { text: 'keep-all=1,keep-daily=3', mentions: ['keep-all cannot be set together with other options'] },
];

describe('parseKeepOptions / formatKeepOptions', () => {
  it.each(valid)('parses $text', ({ text, parsed, canonical, keepAll }) => {
    const k = parseKeepOptions(text);
    expect(k).toEqual(parsed);
    expect(Object.keys(k)).toEqual(Object.keys(parsed)); // canonical key order
    expect(formatKeepOptions(k)).toBe(canonical);
    expect(isKeepAll(k)).toBe(keepAll);
    expect(keepsNothing(k)).toBe(keepAll);
    // The canonical form means the same.
    expect(isKeepAll(parseKeepOptions(canonical))).toBe(keepAll);
    expect(formatKeepOptions(parseKeepOptions(canonical))).toBe(canonical);
  });

  it.each(invalid)('rejects $text', ({ text, mentions }) => {
    expectUsageError(() => parseKeepOptions(text), ...mentions);
  });
});

describe('validateKeepOptions', () => {
  it.each<{ value: unknown; mentions: string[] }>([
    { value: { 'keep-daily': -1 }, mentions: ['keep-daily', "'-1'"] },
    { value: { 'keep-daily': 1.5 }, mentions: ['keep-daily', '1.5'] },
    { value: { 'keep-daily': '3' }, mentions: ['keep-daily', "'3'"] },
    { value: { 'keep-daily': Number.NaN }, mentions: ['keep-daily', 'NaN'] },
    { value: { 'keep-all': 1 }, mentions: ['keep-all'] },
    { value: { 'keep-secondly': 1 }, mentions: ["'keep-secondly'"] },
    { value: { 'keep-all': true, 'keep-last': 1 }, mentions: ['keep-all cannot be set together with other options'] },
    { value: null, mentions: ['object'] },
    { value: [], mentions: ['array'] },
  ])('rejects $value', ({ value, mentions }) => {
    expectUsageError(() => validateKeepOptions(value), ...mentions);
  });

  it('accepts zeros and undefined, returns canonical key order', () => {
    const k = validateKeepOptions({ 'keep-yearly': 1, 'keep-all': false, 'keep-daily': 0, 'keep-last': undefined });
    expect(Object.keys(k)).toEqual(['keep-all', 'keep-daily', 'keep-yearly']);
    expect(validateKeepOptions({ 'keep-all': true, 'keep-daily': 0 })).toEqual({ 'keep-all': true, 'keep-daily': 0 });
  });
});
