export * from './password.js';
export * from './users.js';
export * from './ticket.js';
