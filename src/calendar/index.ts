export type { CalendarEvent, CalendarValue, FieldName } from './types.js';
export { WEEKDAY_NAMES } from './types.js';
export { parseCalendarEvent } from './parse.js';
export { computeNextEvent, nextEvents } from './next.js';
export { formatCalendarEvent } from './format.js';
export { formatLocalRfc3339, parseRfc3339 } from './rfc3339.js';
