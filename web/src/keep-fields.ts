import { KEEP_COUNT_OPTIONS, type KeepCountOption, type KeepOptions } from '../../src/retention/keep-options.js';

/** The keep-* counts as a form holds them: text, empty for "not set". */
export type KeepFields = Record<KeepCountOption, string>;

/** The fields as KeepOptions; empty fields are "not set". Throws naming the bad field. */
export function keepOptionsOf(keep: KeepFields): KeepOptions {
  const out: KeepOptions = {};
  for (const o of KEEP_COUNT_OPTIONS) {
    const v = keep[o].trim();
    if (v === '') continue;
    if (!/^[0-9]+$/.test(v)) throw new Error(`${o}: "${v}" is not a whole number ≥ 0`);
    out[o] = Number(v);
  }
  return out;
}
