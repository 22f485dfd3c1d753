import type { KeepCountOption } from '../../src/retention/keep-options.js';

export const KEEP_LABEL: Record<KeepCountOption, string> = {
  'keep-last': 'Keep last',
  'keep-hourly': 'Keep hourly',
  'keep-daily': 'Keep daily',
  'keep-weekly': 'Keep weekly',
  'keep-monthly': 'Keep monthly',
  'keep-yearly': 'Keep yearly',
};
