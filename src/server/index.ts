/** The daemon's HTTP API and its authentication. */
export * from './app.js';
export * from './cert.js';
export * from './first-start.js';
export * from './auth/index.js';
