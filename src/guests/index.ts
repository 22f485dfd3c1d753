/** Guests: VM configs and their QEMU processes (QMP, guest agent, point-in-time views). */
export * from './vm-config.js';
export * from './vm-store.js';
export * from './qemu/index.js';
