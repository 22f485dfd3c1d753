/** One backup of one guest: mode sequences, hooks, dirty-bitmap bookkeeping. */
export * from './vm-backup.js';
export * from './hook-script.js';
export * from './bitmap-state.js';
export * from './targets.js';
export * from './run-vzdump.js';
export * from './backup-storage.js';
export * from './vm-restore.js';
export * from './vzdump-defaults.js';
export * from './backup-status.js';
