/** NBD client: read extents, block status and dirty-bitmap contexts of an NBD export. */
export { NbdClient, type NbdConnectOptions, type NbdExtent } from './client.js';
export type { NegotiatedExport } from './handshake.js';
export * from './constants.js';
