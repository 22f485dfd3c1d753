export * from './password.js';
export * from './users.js';
export * from './ticket.js';
export * from './permissions.js';
export * from './acl-store.js';
export * from './tokens.js';
