export {
  formatKeepOptions,
  isKeepAll,
  KEEP_COUNT_OPTIONS,
  keepsNothing,
  parseKeepCount,
  parseKeepOptions,
  validateKeepOptions,
  type KeepCountOption,
  type KeepOptions,
} from './keep-options.js';
export { formatLocalTime, isoWeek, localParts, PERIOD_KIND, periodId, periodIdOf, type LocalParts, type PeriodKind } from './periods.js';
export { computePrune, type PruneDecision, type PruneItem, type PruneMark } from './compute-prune.js';
