import { join } from 'node:path';
import { Command } from 'commander';
import { Datastore, loadDatastoreConfigs } from '../../datastore/index.js';
import { guestvaultHome } from '../../home.js';
import { printResult, withOutput, type OutputFormat } from '../output.js';

export const DEFAULT_DATASTORE = 'local';
export const DEFAULT_RETENTION = 'keep-daily=3,keep-weekly=2,keep-monthly=1';

export function initCommand(): Command {
  return withOutput(new Command('init')
    .description('set up the embedded default under GUESTVAULT_HOME: the datastore "local" with the default retention (idempotent)'))
    .action((o: { outputFormat: OutputFormat }) => {
      const home = guestvaultHome();
      const existing = loadDatastoreConfigs().find((c) => c.name === DEFAULT_DATASTORE);
      const store = existing
        ? Datastore.open(DEFAULT_DATASTORE)
        : Datastore.create(DEFAULT_DATASTORE, join(home, 'datastores', DEFAULT_DATASTORE), { 'prune-backups': DEFAULT_RETENTION });
      printResult(o.outputFormat, { home, datastore: store.config, created: !existing }, () =>
        process.stdout.write(`${existing ? 'found' : 'created'} datastore '${DEFAULT_DATASTORE}' at ${store.path} (GUESTVAULT_HOME=${home})\n`));
    });
}
