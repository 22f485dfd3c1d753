export * from './qemu/index.js';
