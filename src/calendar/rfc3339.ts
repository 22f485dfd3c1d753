/** RFC 3339 timestamps for showing and entering event times (local time, or an explicit offset). */

import { daysFromCivil } from './time.js';

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Local time with its UTC offset, e.g. 2026-11-27T23:00:00+01:00 (+00:00 in UTC, never Z). */
export function formatLocalRfc3339(epoch: number): string {
  const d = new Date(epoch * 1000);
  const offset = -d.getTimezoneOffset(); // minutes east of UTC
  const abs = Math.abs(Math.round(offset));
  const sign = offset < 0 ? '-' : '+';
  return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
    + `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * Epoch seconds of an RFC 3339 timestamp with `Z` or an offset (`2026-11-27T23:00:00+01:00`,
 * fractions of a second are dropped), or undefined when the text is not one.
 */
export function parseRfc3339(text: string): number | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12) return undefined;
  const daysInMonth = daysFromCivil(year, month + 1, 1) - daysFromCivil(year, month, 1);
  if (day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 60) return undefined;
  let offset = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offset = (m[9] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  return daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
}
