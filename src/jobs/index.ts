export * from './job-config.js';
export * from './job-state.js';
export * from './node-name.js';
export * from './job-runner.js';
export * from './scheduler.js';
export * from './job-next.js';
export * from './job-admin.js';
