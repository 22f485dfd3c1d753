export * from './password.js';
export * from './users.js';
