export * from './layout.js';
export * from './parser.js';
export * from './writer.js';
