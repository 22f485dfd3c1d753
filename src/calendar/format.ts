import { listContains } from './values.js';
import { FIELDS, WEEKDAY_NAMES, type CalendarEvent, type CalendarValue, type Field } from './types.js';

/**
 * The normalised form of an event, in the style of systemd's normalised calendar specs (and of the
 * "equivalent" column of the Proxmox docs):
 *
 *   [WEEKDAYS ]YYYY-MM-DD HH:MM:SS[ UTC]      e.g.  mon..fri *-*-* 23:00:00
 *
 * - WEEKDAYS: lower-case short names Monday first; three or more consecutive days as a range
 *   (`mon..thu,sat,sun`); left out when every day (or no day) is selected.
 * - Every field is shown; `*` when it allows any value (no entries, or entries that cover every
 *   value of the field, such as `0/1` or `0..59`).
 * - Entries are sorted by their first value and duplicates dropped; numbers are zero-padded (years
 *   to 4 digits, others to 2); a range of one or two values becomes those values (`12..13` →
 *   `12,13`), a repetition with an end is cut back to its last value (`20..39/5` → `20..35/5`), one
 *   with step 1 becomes a range, one with a single value becomes that value. Open-ended
 *   repetitions keep their start (`*\/5` → `00/5`), because they may step past the end of a field
 *   the way Proxmox does.
 * - Keywords are expanded (`weekly` → `mon *-*-* 00:00:00`).
 *
 * These rewrites never change which events are computed, so the normalised form parses back to an
 * equivalent event and normalises to itself. It does not merge different entries that happen to
 * select the same values (`12/2` and `12,14,16,18,20,22` stay different).
 */
export function formatCalendarEvent(ev: CalendarEvent): string {
  const parts: string[] = [];
  const weekdays = formatWeekdays(ev.weekdays);
  if (weekdays) parts.push(weekdays);
  const f = (list: readonly CalendarValue[], field: Field) => formatList(list, field);
  parts.push(`${f(ev.years, FIELDS.year)}-${f(ev.months, FIELDS.month)}-${f(ev.days, FIELDS.day)}`);
  parts.push(`${f(ev.hours, FIELDS.hour)}:${f(ev.minutes, FIELDS.minute)}:${f(ev.seconds, FIELDS.second)}`);
  if (ev.utc) parts.push('UTC');
  return parts.join(' ');
}

function formatWeekdays(days: readonly number[]): string {
  const set = new Set(days);
  if (set.size === 0 || set.size === 7) return '';
  const out: string[] = [];
  for (let d = 0; d < 7; d++) {
    if (!set.has(d)) continue;
    let end = d;
    while (end + 1 < 7 && set.has(end + 1)) end++;
    if (end - d >= 2) out.push(`${WEEKDAY_NAMES[d]}..${WEEKDAY_NAMES[end]}`);
    else for (let i = d; i <= end; i++) out.push(WEEKDAY_NAMES[i]!);
    d = end;
  }
  return out.join(',');
}

const single = (value: number): CalendarValue => ({ kind: 'single', value });

/** Equivalent entries in their simplest form. */
function simplify(e: CalendarValue): CalendarValue[] {
  if (e.kind === 'single') return [e];
  if (e.kind === 'range') {
    if (e.end - e.start <= 1) return e.start === e.end ? [single(e.start)] : [single(e.start), single(e.end)];
    return [e];
  }
  if (e.step === 0) return [single(e.start)]; // Proxmox: a step of 0 matches only the start
  if (e.end === undefined) return [e];
  const end = e.start + Math.floor((e.end - e.start) / e.step) * e.step;
  if (e.step === 1) return simplify({ kind: 'range', start: e.start, end });
  return end === e.start ? [single(e.start)] : [{ kind: 'repeated', start: e.start, step: e.step, end }];
}

const KIND_ORDER = { single: 0, range: 1, repeated: 2 } as const;

function sortKey(e: CalendarValue): number[] {
  switch (e.kind) {
    case 'single':
      return [e.value, KIND_ORDER.single, 0, 0];
    case 'range':
      return [e.start, KIND_ORDER.range, e.end, 0];
    case 'repeated':
      return [e.start, KIND_ORDER.repeated, e.end ?? Infinity, e.step];
  }
}

function compareKeys(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return 0;
}

function coversField(list: readonly CalendarValue[], field: Field): boolean {
  if (field.name === 'year') {
    // Years have no upper bound: only an open-ended step-1 repetition from year 0 covers all.
    return list.some((e) => e.kind === 'repeated' && e.start === 0 && e.step === 1 && e.end === undefined);
  }
  for (let v = field.min; v <= field.max; v++) if (!listContains(list, v)) return false;
  return true;
}

function formatList(list: readonly CalendarValue[], field: Field): string {
  if (list.length === 0 || coversField(list, field)) return '*';
  const pad = (n: number) => String(n).padStart(field.width, '0');
  const texts = list
    .flatMap(simplify)
    .sort((a, b) => compareKeys(sortKey(a), sortKey(b)))
    .map((e) => {
      switch (e.kind) {
        case 'single':
          return pad(e.value);
        case 'range':
          return `${pad(e.start)}..${pad(e.end)}`;
        case 'repeated':
          return e.end === undefined ? `${pad(e.start)}/${e.step}` : `${pad(e.start)}..${pad(e.end)}/${e.step}`;
      }
    });
  return [...new Set(texts)].join(',');
}
