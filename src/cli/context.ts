import { Datastore, parseNamespace } from '../datastore/index.js';
import { GuestvaultError } from '../errors.js';

export interface StoreOptions {
  store?: string;
  ns?: string;
}

export function openStore(o: StoreOptions): { store: Datastore; ns: string[] } {
  if (!o.store) throw new GuestvaultError('E_USAGE', 'missing --store NAME (see `guestvault datastore list`)');
  return { store: Datastore.open(o.store), ns: parseNamespace(o.ns) };
}

export { processAuthId as currentAuthId } from '../process-user.js';
