/** storage.cfg and the storages behind it: dir storages (disk volumes) and datastore storages. */
export * from './storage-config.js';
export * from './volumes.js';
export * from './compression.js';
export * from './vma-file.js';
export * from './archive-names.js';
export * from './storage-admin.js';
export * from './storage-content.js';
export * from './archive-reader.js';
export * from './nfs.js';
export * from './backup-volume.js';
export * from './write-at.js';
