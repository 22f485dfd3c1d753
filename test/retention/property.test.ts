// Random lists in a zone with DST changes, so the local periods get irregular lengths.
process.env.TZ = 'Europe/Vienna';

import { describe, expect, it } from 'vitest';
import { computePrune, isKeepAll, KEEP_COUNT_OPTIONS, type KeepOptions, type PruneItem } from '../../src/retention/index.js';

/** mulberry32: a small seeded PRNG, so a failure can be reproduced from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STEPS = [60, 600, 3600, 4 * 3600, 86_400, 3 * 86_400, 8 * 86_400, 40 * 86_400, 400 * 86_400];

function randomItems(r: () => number): PruneItem[] {
  const n = Math.floor(r() * 60);
  let t = 1_700_000_000 - Math.floor(r() * 400_000_000);
  const items: PruneItem[] = [];
  for (let i = 0; i < n; i++) {
    t += 1 + Math.floor(r() * STEPS[Math.floor(r() * STEPS.length)]!);
    const item: PruneItem = { 'backup-time': t };
    if (r() < 0.1) item.protected = true;
    if (r() < 0.08) item.finished = false;
    items.push(item);
  }
  // Shuffle: the input order must not matter.
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

function randomKeep(r: () => number): KeepOptions {
  const k: KeepOptions = {};
  if (r() < 0.05) return { 'keep-all': true };
  for (const o of KEEP_COUNT_OPTIONS) if (r() < 0.45) k[o] = Math.floor(r() * 5);
  return k;
}

describe('computePrune properties (random lists and options)', () => {
  it('holds for 500 random cases', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const r = rng(seed);
      const items = randomItems(r);
      const keep = randomKeep(r);
      const ctx = `seed ${seed}, keep ${JSON.stringify(keep)}`;
      const out = computePrune(items, keep);

      // One decision per item, the same times, newest first.
      expect(out.map((d) => d['backup-time']).sort((a, b) => a - b), ctx).toEqual(items.map((i) => i['backup-time']).sort((a, b) => a - b));
      expect(out.every((d, i) => i === 0 || out[i - 1]!['backup-time'] >= d['backup-time']), ctx).toBe(true);

      // Every protected backup stays protected; nothing else is.
      const isProtected = new Set(items.filter((i) => i.protected).map((i) => i['backup-time']));
      expect(out.every((d) => (d.mark === 'protected') === isProtected.has(d['backup-time'])), ctx).toBe(true);

      // 'keep' never exceeds the sum of the counts; keep-partial only for the newest.
      const sum = KEEP_COUNT_OPTIONS.reduce((a, o) => a + (keep[o] ?? 0), 0);
      const kept = out.filter((d) => d.mark === 'keep').length;
      if (isKeepAll(keep)) {
        expect(out.every((d) => d.mark === 'keep' || d.mark === 'protected'), ctx).toBe(true);
      } else {
        expect(kept, ctx).toBeLessThanOrEqual(sum);
        expect(out.every((d, i) => d.mark !== 'keep-partial' || i === 0), ctx).toBe(true);
      }
      expect(out.every((d) => d.reason !== '' && d.reason !== 'not kept by any option'), ctx).toBe(true);

      // Idempotent: pruning what was kept again keeps all of it, for the same reasons.
      const byTime = new Map(items.map((i) => [i['backup-time'], i]));
      const survivors = out.filter((d) => d.mark !== 'remove').map((d) => byTime.get(d['backup-time'])!);
      expect(computePrune(survivors, keep), ctx).toEqual(out.filter((d) => d.mark !== 'remove'));
    }
  });
});
