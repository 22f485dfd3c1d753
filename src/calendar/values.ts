import type { CalendarValue } from './types.js';

/** Whether the entry contains `v` (proxmox-time `DateTimeValue::contains`). */
export function valueContains(e: CalendarValue, v: number): boolean {
  switch (e.kind) {
    case 'single':
      return e.value === v;
    case 'range':
      return v >= e.start && v <= e.end;
    case 'repeated':
      if (v < e.start) return false;
      if (e.end !== undefined && v > e.end) return false;
      return e.step > 0 ? (v - e.start) % e.step === 0 : v === e.start;
  }
}

export function listContains(list: readonly CalendarValue[], v: number): boolean {
  for (const e of list) if (valueContains(e, v)) return true;
  return false;
}

/**
 * The smallest value greater than `v` any entry offers (proxmox-time `find_next`). An open-ended
 * repetition may offer a value past the end of the field (minute 60, day 35, month 16); the
 * caller then moves by that many units and lets the calendar roll over, exactly as Proxmox does.
 */
export function findNext(list: readonly CalendarValue[], v: number): number | undefined {
  let next: number | undefined;
  const offer = (n: number) => {
    if (next === undefined || n < next) next = n;
  };
  for (const e of list) {
    switch (e.kind) {
      case 'single':
        if (e.value > v) offer(e.value);
        break;
      case 'range':
        if (v < e.start) offer(e.start);
        else if (v + 1 <= e.end) offer(v + 1);
        break;
      case 'repeated':
        if (v < e.start) offer(e.start);
        else if (e.step > 0) {
          const n = e.start + Math.floor((v - e.start + e.step) / e.step) * e.step;
          if (e.end === undefined || n <= e.end) offer(n);
        }
        break;
    }
  }
  return next;
}
