export type { CatalogEntry } from './catalog.js';
export { encodeCatalog, decodeCatalog, catalogRange } from './catalog.js';
export type { EntryType } from './entry-header.js';
export { tarDirectory, type TarDirectoryOptions } from './tar-directory.js';
export { extractTar, type ExtractOptions } from './extract-tar.js';
