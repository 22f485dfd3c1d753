export * from './format-size.js';
export * from './progress.js';
export * from './upid.js';
export * from './task-log.js';
export * from './task-list.js';
