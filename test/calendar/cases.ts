/**
 * Calendar-event test cases as data. Times are epoch seconds; `next: null` = no next event.
 *
 * Sources: proxmox-time `src/test.rs` (proxmox/proxmox-rs), the older pve-common
 * `test/calendar_event_test.pl`, systemd `src/test/test-calendarspec.c` (cases within the Proxmox
 * grammar), the Proxmox docs examples (pve-docs calendar-events.adoc, PBS docs/calendarevents.rst,
 * as collected in the project's reference docs-examples.json) and the PVE GUI schedule examples.
 */

export interface NextCase {
  spec: string;
  last: number;
  next: number | null;
  note?: string;
}

export const MIN = 60;
export const HOUR = 3600;
export const DAY = 86_400;

/** Epoch seconds of an ISO time (with Z or an offset). */
export const at = (iso: string): number => {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad test time ${iso}`);
  return ms / 1000;
};

// ---------------------------------------------------------------------------------------------
// proxmox-time test.rs, test_compute_next_event. Proxmox appends " UTC" to every spec there.

const THU = 0; // 1970-01-01 00:00 UTC, a Thursday
const THU_15 = 15 * HOUR;
const JUL_31_2020 = 1_596_153_600; // Friday
const DEC_31_2020 = 1_609_372_800; // Thursday

/** Follow a chain: each expected event is the `last` of the next case (as test.rs does). */
function chain(spec: string, first: number, expected: number[]): NextCase[] {
  let last = first;
  return expected.map((next) => {
    const c = { spec, last, next };
    last = next;
    return c;
  });
}
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

export const PROXMOX_TIME_CASES: NextCase[] = [
  // minute-only syntax: a lone number is a minute
  { spec: '0', last: THU, next: THU + HOUR },
  { spec: '*', last: THU, next: THU + MIN },
  { spec: '*:0', last: THU, next: THU + HOUR },
  { spec: '*:*', last: THU, next: THU + MIN },
  { spec: '*:*:*', last: THU, next: THU + 1 },
  { spec: '*:3:5', last: THU, next: THU + 3 * MIN + 5 },
  { spec: 'mon *:*', last: THU, next: THU + 4 * DAY },
  { spec: 'mon 2:*', last: THU, next: THU + 4 * DAY + 2 * HOUR },
  { spec: 'mon 2:50', last: THU, next: THU + 4 * DAY + 2 * HOUR + 50 * MIN },
  { spec: 'tue', last: THU, next: THU + 5 * DAY },
  { spec: 'wed', last: THU, next: THU + 6 * DAY },
  { spec: 'thu', last: THU, next: THU + 7 * DAY },
  { spec: 'fri', last: THU, next: THU + 1 * DAY },
  { spec: 'sat', last: THU, next: THU + 2 * DAY },
  { spec: 'sun', last: THU, next: THU + 3 * DAY },
  // repeated ranges
  { spec: '4..10/2:0', last: THU, next: THU + 4 * HOUR },
  { spec: '4..10/2:0', last: THU + 5 * HOUR, next: THU + 6 * HOUR },
  { spec: '4..10/2:0', last: THU + 11 * HOUR, next: THU + DAY + 4 * HOUR },
  // several values in one field, in any order
  { spec: '5,10:4,8', last: THU, next: THU + 5 * HOUR + 4 * MIN },
  { spec: '10,5:8,4', last: THU, next: THU + 5 * HOUR + 4 * MIN },
  { spec: '6,4..10:23,5/5', last: THU, next: THU + 4 * HOUR + 5 * MIN },
  { spec: '4..10,6:5/5,23', last: THU, next: THU + 4 * HOUR + 5 * MIN },
  // month wrapping
  ...['sat', 'sun', 'mon', 'tue', 'wed', 'thu', 'fri'].map((spec, i) => ({ spec, last: JUL_31_2020, next: JUL_31_2020 + (i + 1) * DAY })),
  // year wrapping
  ...['fri', 'sat', 'sun', 'mon', 'tue', 'wed', 'thu'].map((spec, i) => ({ spec, last: DEC_31_2020, next: DEC_31_2020 + (i + 1) * DAY })),
  { spec: 'daily', last: THU, next: THU + DAY },
  { spec: 'daily', last: THU + 1, next: THU + DAY },
  ...chain('5/2:0', THU, [5, 7, 9, 11].map((h) => THU + h * HOUR)),
  ...chain('*:*', THU, range(1, 100).map((i) => THU + i * MIN)),
  ...chain('*:0', THU, range(1, 100).map((i) => THU + i * HOUR)),
  ...chain('1:0', THU_15, range(1, 100).map((i) => THU + i * DAY + HOUR)),
  // dates
  { spec: '2020-07-31', last: 0, next: JUL_31_2020 },
  { spec: '02-28', last: 0, next: (31 + 27) * DAY },
  { spec: '02-29', last: 0, next: 2 * 365 * DAY + (31 + 28) * DAY, note: '1972-02-29' },
  { spec: '1965/5-01-01', last: -1, next: THU },
  { spec: '2020-7..9-2/2', last: JUL_31_2020, next: JUL_31_2020 + 2 * DAY },
  { spec: '2020,2021-12-31', last: JUL_31_2020, next: DEC_31_2020 },
  // keywords
  { spec: 'minutely', last: THU, next: THU + MIN },
  { spec: 'hourly', last: THU, next: THU + HOUR },
  { spec: 'weekly', last: THU, next: THU + 4 * DAY },
  { spec: 'monthly', last: 0, next: 31 * DAY },
  { spec: 'quarterly', last: 0, next: (31 + 28 + 31) * DAY },
  { spec: 'semiannually', last: 0, next: (31 + 28 + 31 + 30 + 31 + 30) * DAY },
  { spec: 'semi-annually', last: 0, next: (31 + 28 + 31 + 30 + 31 + 30) * DAY },
  { spec: 'yearly', last: 0, next: 365 * DAY },
  { spec: 'annually', last: 0, next: 365 * DAY },
  // never
  { spec: '2021-02-29', last: 0, next: null },
  { spec: '02-30', last: 0, next: null },
];

/** proxmox-time test.rs, test_calendar_event_weekday: must parse. */
export const PROXMOX_TIME_WEEKDAY_SPECS = [
  'mon,wed..fri', 'fri..mon', 'mon', 'MON', 'monDay', 'tue', 'Tuesday', 'wed', 'wednesday', 'thu', 'thursday',
  'fri', 'friday', 'sat', 'saturday', 'sun', 'sunday', 'mon..fri', 'mon,tue,fri', 'mon,tue..wednesday,fri..sat',
];

// ---------------------------------------------------------------------------------------------
// pve-common test/calendar_event_test.pl (the Perl implementation PVE used before proxmox-time;
// evaluated in UTC). Its 'Fri..Mon' error case is gone: proxmox-time wraps the range.

export const PVE_COMMON_CASES: NextCase[] = [
  ...[[0, 60], [30, 60], [59, 60], [60, 120]].map(([last, next]) => ({ spec: '*', last: last!, next: next! })),
  ...[[0, 600], [599, 600], [600, 1200], [50 * 60, 60 * 60]].map(([last, next]) => ({ spec: '*/10', last: last!, next: next! })),
  ...[[10, 43200], [13 * 3600, 24 * 3600]].map(([last, next]) => ({ spec: '*/12:0', last: last!, next: next! })),
  ...[
    [0, 3600], [3600, 3600 + 15 * 60], [3600 + 16 * 60, 3600 + 30 * 60], [3600 + 30 * 60, 3600 + 45 * 60], [3600 + 45 * 60, 3600 + 12 * 3600],
    [13 * 3600 + 1, 13 * 3600 + 15 * 60], [13 * 3600 + 15 * 60, 13 * 3600 + 30 * 60], [13 * 3600 + 30 * 60, 13 * 3600 + 45 * 60], [13 * 3600 + 45 * 60, 25 * 3600],
  ].map(([last, next]) => ({ spec: '1/12:0/15', last: last!, next: next! })),
  ...[[0, 60], [60, 4 * 60], [4 * 60 + 60, 6 * 60], [6 * 60, 3600 + 60]].map(([last, next]) => ({ spec: '1,4,6', last: last!, next: next! })),
  ...[[0, 4 * DAY], [4 * DAY, 11 * DAY], [11 * DAY, 18 * DAY]].map(([last, next]) => ({ spec: 'Mon', last: last!, next: next! })),
  ...[[0, 2 * DAY], [2 * DAY, 3 * DAY], [3 * DAY, 9 * DAY]].map(([last, next]) => ({ spec: 'sat..sun', last: last!, next: next! })),
  ...[[0, 22 * HOUR], [22 * HOUR, 23 * HOUR], [22 * HOUR + 59 * MIN, 23 * HOUR]].map(([last, next]) => ({ spec: '22/1:0', last: last!, next: next! })),
  ...[[0, 60], [HOUR, 2 * HOUR], [2 * HOUR, 2 * HOUR + 60]].map(([last, next]) => ({ spec: '*/2:*', last: last!, next: next! })),
  ...[[0, 20 * HOUR], [20 * HOUR, 20 * HOUR + 30 * MIN], [22 * HOUR + 30 * MIN, 44 * HOUR]].map(([last, next]) => ({ spec: '20..22:*/30', last: last!, next: next! })),
];

/** pve-common: parse only (and the parsed lists). */
export const PVE_COMMON_PARSE = ['0..3', '23..23:0..3', 'sun..sat', 'wed,mon..tue,fri', 'mon */15'];
export const PVE_COMMON_REJECTED = ['61', '*/61', '0..80'];

// ---------------------------------------------------------------------------------------------
// Schedules PVE suggests: the GUI examples (pve-manager www/manager6/form/CalendarEvent.js) and
// the usual backup job schedules. All from Thursday 2026-11-26 12:00 UTC, evaluated in UTC.

export const FROM = at('2026-11-26T12:00:00Z');

export interface SequenceCase {
  spec: string;
  from: number;
  events: string[]; // ISO UTC, in order
  note?: string;
}

export const SCHEDULE_CASES: SequenceCase[] = [
  { spec: 'mon..fri 23:00', from: FROM, events: ['2026-11-26T23:00:00Z', '2026-11-27T23:00:00Z', '2026-11-30T23:00:00Z', '2026-12-01T23:00:00Z'], note: 'default backup job: weekdays at 23:00' },
  { spec: 'sun 01:00', from: FROM, events: ['2026-11-29T01:00:00Z', '2026-12-06T01:00:00Z', '2026-12-13T01:00:00Z'], note: 'default weekly job' },
  { spec: '*/30', from: FROM, events: ['2026-11-26T12:30:00Z', '2026-11-26T13:00:00Z', '2026-11-26T13:30:00Z'] },
  { spec: '*/2:00', from: FROM, events: ['2026-11-26T14:00:00Z', '2026-11-26T16:00:00Z', '2026-11-26T18:00:00Z'] },
  { spec: '21:00', from: FROM, events: ['2026-11-26T21:00:00Z', '2026-11-27T21:00:00Z'] },
  { spec: '2,22:30', from: FROM, events: ['2026-11-26T22:30:00Z', '2026-11-27T02:30:00Z', '2026-11-27T22:30:00Z'] },
  { spec: 'mon..fri 00:00', from: FROM, events: ['2026-11-27T00:00:00Z', '2026-11-30T00:00:00Z', '2026-12-01T00:00:00Z'] },
  { spec: 'mon..fri */1:00', from: at('2026-11-27T22:30:00Z'), events: ['2026-11-27T23:00:00Z', '2026-11-30T00:00:00Z', '2026-11-30T01:00:00Z'] },
  { spec: 'mon..fri 7..18:00/15', from: at('2026-11-26T18:30:00Z'), events: ['2026-11-26T18:45:00Z', '2026-11-27T07:00:00Z', '2026-11-27T07:15:00Z'] },
  { spec: 'monthly', from: FROM, events: ['2026-12-01T00:00:00Z', '2027-01-01T00:00:00Z', '2027-02-01T00:00:00Z'] },
  { spec: 'sat *-1..7 15:00', from: FROM, events: ['2026-12-05T15:00:00Z', '2027-01-02T15:00:00Z', '2027-02-06T15:00:00Z'], note: 'first Saturday of the month' },
  { spec: 'yearly', from: FROM, events: ['2027-01-01T00:00:00Z', '2028-01-01T00:00:00Z'] },
  // wrapping weekday ranges
  { spec: 'fri..mon 12:00', from: FROM, events: ['2026-11-27T12:00:00Z', '2026-11-28T12:00:00Z', '2026-11-29T12:00:00Z', '2026-11-30T12:00:00Z', '2026-12-04T12:00:00Z'] },
  { spec: 'sun..mon', from: FROM, events: ['2026-11-29T00:00:00Z', '2026-11-30T00:00:00Z', '2026-12-06T00:00:00Z'] },
  { spec: 'sat..tue,thu 6:00', from: FROM, events: ['2026-11-28T06:00:00Z', '2026-11-29T06:00:00Z', '2026-11-30T06:00:00Z', '2026-12-01T06:00:00Z', '2026-12-03T06:00:00Z', '2026-12-05T06:00:00Z'] },
  { spec: 'SUNDAY..Tuesday 1:2:3', from: FROM, events: ['2026-11-29T01:02:03Z', '2026-11-30T01:02:03Z', '2026-12-01T01:02:03Z', '2026-12-06T01:02:03Z'] },
  // repetitions in every field
  { spec: '*:*:0/20', from: FROM, events: ['2026-11-26T12:00:20Z', '2026-11-26T12:00:40Z', '2026-11-26T12:01:00Z'] },
  { spec: '0/6:0', from: FROM, events: ['2026-11-26T18:00:00Z', '2026-11-27T00:00:00Z', '2026-11-27T06:00:00Z', '2026-11-27T12:00:00Z'] },
  { spec: '10..14/2:15..45/15', from: FROM, events: ['2026-11-26T12:15:00Z', '2026-11-26T12:30:00Z', '2026-11-26T12:45:00Z', '2026-11-26T14:15:00Z', '2026-11-26T14:30:00Z', '2026-11-26T14:45:00Z', '2026-11-27T10:15:00Z'] },
  { spec: '*-*/3-1 3:00', from: FROM, events: ['2027-01-01T03:00:00Z', '2027-04-01T03:00:00Z', '2027-07-01T03:00:00Z', '2027-10-01T03:00:00Z', '2028-01-01T03:00:00Z'], note: 'months 1/3 = 1,4,7,10' },
  { spec: '*-*-10..20/5', from: FROM, events: ['2026-12-10T00:00:00Z', '2026-12-15T00:00:00Z', '2026-12-20T00:00:00Z', '2027-01-10T00:00:00Z'] },
  { spec: '2026/2-12-24 18:00', from: FROM, events: ['2026-12-24T18:00:00Z', '2028-12-24T18:00:00Z', '2030-12-24T18:00:00Z'] },
  { spec: '2027..2028-02-29', from: FROM, events: ['2028-02-29T00:00:00Z'], note: 'then never: 2027 has no Feb 29' },
  { spec: 'fri *-*-13 13:13', from: FROM, events: ['2027-08-13T13:13:00Z', '2028-10-13T13:13:00Z'], note: 'weekday AND day of month' },
];

// ---------------------------------------------------------------------------------------------
// Where Proxmox (and so this implementation) does something surprising. Evaluated in UTC.

export const PROXMOX_QUIRKS: NextCase[] = [
  {
    spec: '*-*-1,31', last: at('2021-02-01T12:00:00Z'), next: at('2021-03-31T00:00:00Z'),
    note: 'day step adds 31-2 days to Feb 2 = Mar 3, so Mar 1 is skipped',
  },
  {
    spec: '*-*-01/5 04:00:00', last: at('2022-02-28T01:00:00Z'), next: at('2022-03-06T04:00:00Z'),
    note: 'systemd: 2022-03-01 04:00 (see SYSTEMD_NEXT_CASES); Proxmox steps to day 31 = Mar 3, then 6',
  },
  {
    spec: '*-01/7-01 04:00:00', last: at('2022-10-01T07:00:00Z'), next: at('2023-08-01T04:00:00Z'),
    note: 'systemd: 2023-01-01; Proxmox steps to month 15 = March next year, then 8',
  },
  { spec: 'mon..fri 22', last: at('2026-11-26T12:00:00Z'), next: at('2026-11-26T12:22:00Z'), note: 'a lone number is a minute, not 22:00 (the PVE docs prose says 22:00)' },
  { spec: '1965/5-01-01', last: at('2026-11-26T12:00:00Z'), next: at('2030-01-01T00:00:00Z') },
  { spec: '2015-10-21', last: FROM, next: null, note: 'a date in the past never fires' },
];

/**
 * An open-ended repetition whose step does not divide the field (hours 24, minutes 60) steps past
 * the end of the field; Proxmox then sets hour 25 / minute 80, which libc rolls into the next day
 * or hour at 01:00 / :20, skipping the values in between.
 */
export const PROXMOX_QUIRK_SEQUENCES: SequenceCase[] = [
  { spec: '*/5:00', from: at('2026-11-26T19:00:00Z'), events: ['2026-11-26T20:00:00Z', '2026-11-27T05:00:00Z', '2026-11-27T10:00:00Z'], note: 'hours 0,5,…,20, but 00:00 is skipped (21 → 25 = 01:00 → 05:00)' },
  { spec: '0/20:0', from: FROM, events: ['2026-11-26T20:00:00Z', '2026-11-27T20:00:00Z', '2026-11-28T20:00:00Z'], note: 'hours 0 and 20, but 00:00 is skipped (21 → 40 = 16:00 next day → 20:00)' },
  { spec: '*:0/40', from: FROM, events: ['2026-11-26T12:40:00Z', '2026-11-26T13:40:00Z', '2026-11-26T14:40:00Z'], note: 'minutes 0 and 40, but :00 is skipped (41 → 80 = :20 next hour → :40)' },
  { spec: '*:0/30', from: FROM, events: ['2026-11-26T12:30:00Z', '2026-11-26T13:00:00Z', '2026-11-26T13:30:00Z'], note: 'a step that divides 60 is not affected' },
];

// ---------------------------------------------------------------------------------------------
// systemd test-calendarspec.c, test_calendar_spec_next, cases within the Proxmox grammar. systemd
// uses µs; `after` is floored to seconds. A zone name in the spec becomes the process TZ here
// ('' and NULL = UTC). Sub-second and '~' cases are left out (not in the grammar).

export interface ZoneCase {
  spec: string;
  tz: string;
  last: number;
  next: number | null;
  /** What Proxmox computes when it differs from systemd's expectation (`next`). */
  proxmox?: number | null;
  note?: string;
}

export const SYSTEMD_NEXT_CASES: ZoneCase[] = [
  { spec: '2016-03-27 03:17:00', tz: 'UTC', last: 0, next: 1_459_048_620 },
  { spec: '2016-03-27 03:17:00', tz: 'Europe/Berlin', last: 0, next: 1_459_041_420 },
  { spec: '2016-03-27 03:17:00', tz: 'Europe/Kyiv', last: 0, next: null, note: '03:17 does not exist that day in Kyiv' },
  { spec: '2016-03-27 03:17:00 UTC', tz: 'UTC', last: 0, next: 1_459_048_620 },
  { spec: '2016-03-27 03:17:00 UTC', tz: 'Europe/Berlin', last: 0, next: 1_459_048_620 },
  { spec: '2016-03-27 03:17:00 UTC', tz: 'Europe/Kyiv', last: 0, next: 1_459_048_620 },
  { spec: 'Sun 16:00:00', tz: 'Europe/Berlin', last: 1_456_041_600, next: 1_456_066_800 },
  { spec: '*-04-31', tz: 'UTC', last: 0, next: null },
  {
    spec: '*-*-01/5 04:00:00 UTC', tz: 'UTC', last: 1_646_010_000, next: 1_646_107_200, proxmox: 1_646_539_200,
    note: 'Proxmox overshoots to day 31 (= Mar 3) and continues with Mar 6',
  },
  {
    spec: '*-01/7-01 04:00:00 UTC', tz: 'UTC', last: 1_664_607_600, next: 1_672_545_600, proxmox: 1_690_862_400,
    note: 'Proxmox overshoots to month 15 (= March 2023) and continues with August',
  },
  { spec: '2017-08-06 9,11,13,15,17:00 UTC', tz: 'UTC', last: 1_502_029_800, next: 1_502_031_600 },
  { spec: '2017-08-06 9..17/2:00 UTC', tz: 'UTC', last: 1_502_029_800, next: 1_502_031_600 },
  { spec: '2016-12-* 3..21/6:00 UTC', tz: 'UTC', last: 1_482_613_200, next: 1_482_634_800 },
  { spec: '2017-09-24 03:30:00', tz: 'Pacific/Auckland', last: 0, next: 1_506_177_000 },
  { spec: '2017-09-24 02:30:00', tz: 'Pacific/Auckland', last: 0, next: null, note: 'skipped by the change to summer time' },
  { spec: '2017-04-02 02:30:00', tz: 'Pacific/Auckland', last: 0, next: 1_491_053_400, note: 'exists twice: the first one' },
  { spec: '2017-04-02 02:30:00', tz: 'Pacific/Auckland', last: 1_491_053_400, next: null, note: '… and only once' },
  { spec: '2017-04-02 03:30:00', tz: 'Pacific/Auckland', last: 0, next: 1_491_060_600 },
  { spec: '2017-09-09 20:42:00', tz: 'Pacific/Auckland', last: 0, next: 1_504_946_520 },
  {
    spec: 'Sun *-*-* 01:00:00', tz: 'Europe/Dublin', last: 1_616_412_478, next: 1_617_494_400,
    note: '01:00 on 2021-03-28 does not exist; Proxmox on glibc (which moves that time backwards in Dublin) would find nothing',
  },
];

/** systemd test_calendar_spec_one inputs within the grammar: ours, and systemd's normalised form. */
export const SYSTEMD_FORMAT_CASES: Array<{ spec: string; normalized: string; systemd: string; differs?: string }> = [
  { spec: 'Sat,Thu,Mon..Wed,Sat..Sun', normalized: 'mon..thu,sat,sun *-*-* 00:00:00', systemd: 'Mon..Thu,Sat,Sun *-*-* 00:00:00' },
  { spec: 'Wed *-1', normalized: 'wed *-*-01 00:00:00', systemd: 'Wed *-*-01 00:00:00' },
  { spec: 'Wed..Wed,Wed *-1', normalized: 'wed *-*-01 00:00:00', systemd: 'Wed *-*-01 00:00:00' },
  { spec: '*-*-7 0:0:0', normalized: '*-*-07 00:00:00', systemd: '*-*-07 00:00:00' },
  { spec: '10-15', normalized: '*-10-15 00:00:00', systemd: '*-10-15 00:00:00' },
  { spec: 'monday *-12-* 17:00', normalized: 'mon *-12-* 17:00:00', systemd: 'Mon *-12-* 17:00:00' },
  { spec: 'Mon,Fri *-*-3,1,2 *:30:45', normalized: 'mon,fri *-*-01,02,03 *:30:45', systemd: 'Mon,Fri *-*-01,02,03 *:30:45' },
  { spec: '12,14,13,12:20,10,30', normalized: '*-*-* 12,13,14:10,20,30:00', systemd: '*-*-* 12,13,14:10,20,30:00' },
  { spec: 'mon,fri *-1/2-1,3 *:30:45', normalized: 'mon,fri *-01/2-01,03 *:30:45', systemd: 'Mon,Fri *-01/2-01,03 *:30:45' },
  { spec: '03-05 08:05:40', normalized: '*-03-05 08:05:40', systemd: '*-03-05 08:05:40' },
  { spec: '08:05:40', normalized: '*-*-* 08:05:40', systemd: '*-*-* 08:05:40' },
  { spec: '05:40', normalized: '*-*-* 05:40:00', systemd: '*-*-* 05:40:00' },
  { spec: 'Sat,Sun 12-05 08:05:40', normalized: 'sat,sun *-12-05 08:05:40', systemd: 'Sat,Sun *-12-05 08:05:40' },
  { spec: 'Sat,Sun 08:05:40', normalized: 'sat,sun *-*-* 08:05:40', systemd: 'Sat,Sun *-*-* 08:05:40' },
  { spec: '2003-03-05 05:40', normalized: '2003-03-05 05:40:00', systemd: '2003-03-05 05:40:00' },
  { spec: '2003-03-05', normalized: '2003-03-05 00:00:00', systemd: '2003-03-05 00:00:00' },
  { spec: '03-05', normalized: '*-03-05 00:00:00', systemd: '*-03-05 00:00:00' },
  { spec: 'hourly', normalized: '*-*-* *:00:00', systemd: '*-*-* *:00:00' },
  { spec: 'daily', normalized: '*-*-* 00:00:00', systemd: '*-*-* 00:00:00' },
  { spec: 'monthly', normalized: '*-*-01 00:00:00', systemd: '*-*-01 00:00:00' },
  { spec: 'weekly', normalized: 'mon *-*-* 00:00:00', systemd: 'Mon *-*-* 00:00:00' },
  { spec: 'minutely', normalized: '*-*-* *:*:00', systemd: '*-*-* *:*:00' },
  { spec: 'quarterly', normalized: '*-01,04,07,10-01 00:00:00', systemd: '*-01,04,07,10-01 00:00:00' },
  { spec: 'semi-annually', normalized: '*-01,07-01 00:00:00', systemd: '*-01,07-01 00:00:00' },
  { spec: 'annually', normalized: '*-01-01 00:00:00', systemd: '*-01-01 00:00:00' },
  { spec: '*:2/3', normalized: '*-*-* *:02/3:00', systemd: '*-*-* *:02/3:00' },
  { spec: '9..11,13:00,30', normalized: '*-*-* 09..11,13:00,30:00', systemd: '*-*-* 09..11,13:00,30:00' },
  { spec: '1..3-1..3 1..3:1..3', normalized: '*-01..03-01..03 01..03:01..03:00', systemd: '*-01..03-01..03 01..03:01..03:00' },
  { spec: '00:00:01..03', normalized: '*-*-* 00:00:01..03', systemd: '*-*-* 00:00:01..03' },
  { spec: '00:00:01/2,02..03', normalized: '*-*-* 00:00:01/2,02,03', systemd: '*-*-* 00:00:01/2,02..03', differs: 'a two-value range is written as a list' },
  { spec: '*:4,30:0..3', normalized: '*-*-* *:04,30:00..03', systemd: '*-*-* *:04,30:00..03' },
  { spec: '*:4,30:0/1', normalized: '*-*-* *:04,30:*', systemd: '*-*-* *:04,30:*' },
  { spec: '*:4,30:0/1,3,5', normalized: '*-*-* *:04,30:*', systemd: '*-*-* *:04,30:*' },
  { spec: 'Monday', normalized: 'mon *-*-* 00:00:00', systemd: 'Mon *-*-* 00:00:00' },
  { spec: 'Monday *-*-*', normalized: 'mon *-*-* 00:00:00', systemd: 'Mon *-*-* 00:00:00' },
  { spec: '*-*-*', normalized: '*-*-* 00:00:00', systemd: '*-*-* 00:00:00' },
  { spec: '*:*:*', normalized: '*-*-* *:*:*', systemd: '*-*-* *:*:*' },
  { spec: '*:*', normalized: '*-*-* *:*:00', systemd: '*-*-* *:*:00' },
  { spec: '12:*', normalized: '*-*-* 12:*:00', systemd: '*-*-* 12:*:00' },
  { spec: '*:30', normalized: '*-*-* *:30:00', systemd: '*-*-* *:30:00' },
  { spec: '*:20..39/5', normalized: '*-*-* *:20..35/5:00', systemd: '*-*-* *:20..35/5:00' },
  { spec: '00:00:20..40/1', normalized: '*-*-* 00:00:20..40', systemd: '*-*-* 00:00:20..40' },
  { spec: '*:05..05', normalized: '*-*-* *:05:00', systemd: '*-*-* *:05:00' },
  { spec: '*:05..10/6', normalized: '*-*-* *:05:00', systemd: '*-*-* *:05:00' },
  { spec: 'Mon,Sun 12-*-* 2,1:23', normalized: 'mon,sun 0012-*-* 01,02:23:00', systemd: 'Mon,Sun 2012-*-* 01,02:23:00', differs: 'Proxmox has no two-digit years: 12 is the year 12' },
  { spec: '00..07-*-*', normalized: '0000..0007-*-* 00:00:00', systemd: '2000..2007-*-* 00:00:00', differs: 'no two-digit years' },
];

/** Rejected by systemd and by Proxmox. */
export const SYSTEMD_REJECTED = [
  'test', ' utc', '    ', '', '121212:1:2', '2000-03-05.23 00:00:00', '2000-03-05 00:00.1:00', '00:00:00/0.00000001',
  '00:00:00.0..00.9', '2016~11-22', '*-*~5/5', 'Monday.. 12:00', 'Monday..', '-00:+00/-5', '00:+00/-5',
  '2016- 11- 24 12: 30: 00', '*~29', '*~16..31', '12..1/2-*', '00:00/60', '00:00:2300', '00:00:18446744073709551615',
  '*:4,30:*,5', '*:4,30:5,*', '*:4,30:*\n',
  // accepted by systemd, not by Proxmox
  'Sat,Thu,Mon-Wed,Sat-Sun', 'Wed, 17:48', 'Wednesday,', '2015-10-25 01:00:00 uTc', '93..00-*-*', '@1493187147',
  '2016-03-27 03:17:00.4200005', '*-*~1 Utc', 'weekly Pacific/Auckland',
];

/** Rejected by systemd but valid for Proxmox: a lone number is a minute; 20/4 is just 20. */
export const SYSTEMD_REJECTED_PROXMOX_ACCEPTS = [
  { spec: '7', normalized: '*-*-* *:07:00' },
  { spec: '20/4:00', normalized: '*-*-* 20/4:00:00' },
];

// ---------------------------------------------------------------------------------------------
// Proxmox docs examples (docs-examples.json): the meaning made concrete from Thursday 2026-11-26
// 12:00 UTC, evaluated in UTC, plus the documented equivalent spellings.

export interface DocsCase {
  source: 'pve-docs' | 'pbs-docs' | 'pve-docs+pbs-docs';
  spec: string;
  meaning: string;
  equivalentTo?: string;
  /** false when the two spellings mean the same but normalise differently */
  sameNormalized?: boolean;
  from?: number;
  events?: string[];
  normalized?: string;
}

export const DOCS_CASES: DocsCase[] = [
  { source: 'pve-docs', spec: 'mon,tue,wed,thu,fri', meaning: 'Every working day at 0:00', equivalentTo: 'mon..fri', events: ['2026-11-27T00:00:00Z', '2026-11-30T00:00:00Z', '2026-12-01T00:00:00Z'] },
  { source: 'pve-docs', spec: 'sat,sun', meaning: 'Only on weekends at 0:00', equivalentTo: 'sat..sun', events: ['2026-11-28T00:00:00Z', '2026-11-29T00:00:00Z', '2026-12-05T00:00:00Z'] },
  { source: 'pve-docs', spec: 'mon,wed,fri', meaning: 'Only on Monday, Wednesday and Friday at 0:00', events: ['2026-11-27T00:00:00Z', '2026-11-30T00:00:00Z', '2026-12-02T00:00:00Z'] },
  { source: 'pve-docs', spec: '12:05', meaning: 'Every day at 12:05 PM', events: ['2026-11-26T12:05:00Z', '2026-11-27T12:05:00Z'] },
  { source: 'pve-docs', spec: '*/5', meaning: 'Every five minutes', equivalentTo: '0/5', events: ['2026-11-26T12:05:00Z', '2026-11-26T12:10:00Z', '2026-11-26T12:15:00Z'] },
  { source: 'pve-docs', spec: 'mon..wed 30/10', meaning: 'Monday, Tuesday, Wednesday 30, 40 and 50 minutes after every full hour', equivalentTo: 'mon,tue,wed 30/10', events: ['2026-11-30T00:30:00Z', '2026-11-30T00:40:00Z', '2026-11-30T00:50:00Z', '2026-11-30T01:30:00Z'] },
  {
    source: 'pve-docs', spec: 'mon..fri 8..17,22:0/15', meaning: 'Every working day every 15 minutes between 8 AM and 6 PM and between 10 PM and 11 PM',
    from: at('2026-11-26T17:40:00Z'), events: ['2026-11-26T17:45:00Z', '2026-11-26T22:00:00Z', '2026-11-26T22:15:00Z', '2026-11-26T22:30:00Z', '2026-11-26T22:45:00Z', '2026-11-27T08:00:00Z'],
  },
  {
    source: 'pve-docs', spec: 'fri 12..13:5/20', meaning: 'Friday at 12:05, 12:25, 12:45, 13:05, 13:25 and 13:45', equivalentTo: 'fri 12,13:5/20',
    events: ['2026-11-27T12:05:00Z', '2026-11-27T12:25:00Z', '2026-11-27T12:45:00Z', '2026-11-27T13:05:00Z', '2026-11-27T13:25:00Z', '2026-11-27T13:45:00Z', '2026-12-04T12:05:00Z'],
  },
  {
    source: 'pve-docs', spec: '12,14,16,18,20,22:5', meaning: 'Every day starting at 12:05 until 22:05, every 2 hours', equivalentTo: '12/2:5', sameNormalized: false,
    events: ['2026-11-26T12:05:00Z', '2026-11-26T14:05:00Z', '2026-11-26T16:05:00Z', '2026-11-26T18:05:00Z', '2026-11-26T20:05:00Z', '2026-11-26T22:05:00Z', '2026-11-27T12:05:00Z'],
  },
  { source: 'pve-docs', spec: '*', meaning: 'Every minute (minimum interval)', equivalentTo: '*/1', events: ['2026-11-26T12:01:00Z', '2026-11-26T12:02:00Z'] },
  { source: 'pve-docs', spec: '*-05', meaning: 'On the 5th day of every Month', events: ['2026-12-05T00:00:00Z', '2027-01-05T00:00:00Z'] },
  { source: 'pve-docs', spec: 'Sat *-1..7 15:00', meaning: 'First Saturday each Month at 15:00', events: ['2026-12-05T15:00:00Z', '2027-01-02T15:00:00Z', '2027-02-06T15:00:00Z'] },
  { source: 'pve-docs', spec: '2015-10-21', meaning: '21st October 2015 at 00:00', from: at('2015-01-01T00:00:00Z'), events: ['2015-10-21T00:00:00Z'] },
  { source: 'pbs-docs', spec: 'mon,tue,wed,thu,fri', meaning: 'Every working day at 00:00', equivalentTo: 'mon..fri', events: ['2026-11-27T00:00:00Z', '2026-11-30T00:00:00Z'] },
  { source: 'pbs-docs', spec: 'sat,sun', meaning: 'Only on weekends at 00:00', equivalentTo: 'sat..sun', events: ['2026-11-28T00:00:00Z', '2026-11-29T00:00:00Z'] },
  { source: 'pbs-docs', spec: 'mon,wed,fri', meaning: 'Monday, Wednesday, Friday at 00:00', events: ['2026-11-27T00:00:00Z', '2026-11-30T00:00:00Z'] },
  { source: 'pbs-docs', spec: '12:05', meaning: 'Every day at 12:05 PM', events: ['2026-11-26T12:05:00Z'] },
  { source: 'pbs-docs', spec: '*:00/5', meaning: 'Every five minutes', equivalentTo: '0/1:0/5', events: ['2026-11-26T12:05:00Z', '2026-11-26T12:10:00Z'] },
  { source: 'pbs-docs', spec: 'mon..wed *:30/10', meaning: 'Monday, Tuesday, Wednesday 30, 40 and 50 minutes after every full hour', equivalentTo: 'mon,tue,wed *:30/10', events: ['2026-11-30T00:30:00Z', '2026-11-30T00:40:00Z', '2026-11-30T00:50:00Z', '2026-11-30T01:30:00Z'] },
  { source: 'pbs-docs', spec: 'mon..fri 8..17,22:0/15', meaning: 'Every working day every 15 minutes between 8 AM and 6 PM and between 10 PM and 11 PM', events: ['2026-11-26T12:15:00Z', '2026-11-26T12:30:00Z'] },
  { source: 'pbs-docs', spec: 'fri 12..13:5/20', meaning: 'Friday at 12:05, 12:25, 12:45, 13:05, 13:25 and 13:45', equivalentTo: 'fri 12,13:5/20', events: ['2026-11-27T12:05:00Z', '2026-11-27T12:25:00Z'] },
  { source: 'pbs-docs', spec: '12,14,16,18,20,22:5', meaning: 'Every day starting at 12:05 until 22:05, every 2 hours', equivalentTo: '12/2:5', sameNormalized: false, events: ['2026-11-26T12:05:00Z', '2026-11-26T14:05:00Z'] },
  { source: 'pbs-docs', spec: '*:*', meaning: 'Every minute (minimum interval)', equivalentTo: '0/1:0/1', events: ['2026-11-26T12:01:00Z'] },
  { source: 'pbs-docs', spec: '*-05', meaning: 'On the 5th day of every Month', events: ['2026-12-05T00:00:00Z'] },
  { source: 'pbs-docs', spec: 'Sat *-1..7 15:00', meaning: 'First Saturday each Month at 15:00', events: ['2026-12-05T15:00:00Z'] },
  { source: 'pbs-docs', spec: '2015-10-21', meaning: '21st October 2015 at 00:00', from: at('2015-10-20T23:59:59Z'), events: ['2015-10-21T00:00:00Z'] },
  ...([
    ['minutely', '*-*-* *:*:00'], ['hourly', '*-*-* *:00:00'], ['daily', '*-*-* 00:00:00'], ['weekly', 'mon *-*-* 00:00:00'],
    ['monthly', '*-*-01 00:00:00'], ['yearly', '*-01-01 00:00:00'], ['annually', '*-01-01 00:00:00'],
    ['quarterly', '*-01,04,07,10-01 00:00:00'], ['semiannually', '*-01,07-01 00:00:00'], ['semi-annually', '*-01,07-01 00:00:00'],
  ] as const).map(([spec, eq]): DocsCase => ({
    source: 'pve-docs+pbs-docs', spec, meaning: "special value (table 'Special Values')", equivalentTo: eq, normalized: eq,
  })),
  {
    source: 'pve-docs', spec: 'mon,tue,wed,thu,fri 22', meaning: 'every workday at 10 PM (prose example) — but a lone number is a MINUTE: hh:22', equivalentTo: 'mon..fri 22',
    events: ['2026-11-26T12:22:00Z', '2026-11-26T13:22:00Z'],
  },
  {
    source: 'pve-docs', spec: '8:00/15', meaning: 'start 8 AM and repeat every 15 minutes until 9 AM (08:00, 08:15, 08:30, 08:45)',
    events: ['2026-11-27T08:00:00Z', '2026-11-27T08:15:00Z', '2026-11-27T08:30:00Z', '2026-11-27T08:45:00Z', '2026-11-28T08:00:00Z'],
  },
];
