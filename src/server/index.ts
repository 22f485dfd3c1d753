/** The daemon's authentication and certificate (the API itself, app.js, is loaded by the daemon only). */
export * from './cert.js';
export * from './first-start.js';
export * from './auth/index.js';
