import { resolve } from 'node:path';

/**
 * GUESTVAULT_HOME: everything guestvault keeps (etc/, datastores/, run/, tasks/). Defaults to
 * ./var when run from a checkout, /var/lib/guestvault otherwise is left to packaging.
 */
export function guestvaultHome(): string {
  return resolve(process.env.GUESTVAULT_HOME ?? 'var');
}

export function etcPath(file: string): string {
  return resolve(guestvaultHome(), 'etc', file);
}
