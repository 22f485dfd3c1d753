import { join } from 'node:path';
import { Command } from 'commander';
import { Datastore, loadDatastoreConfigs } from '../../datastore/index.js';
import { guestvaultHome } from '../../home.js';
import { defaultJobs, jobsConfigFile, saveJobs } from '../../jobs/index.js';
import { existsSync } from 'node:fs';
import { DEFAULT_DATASTORE_STORAGE, defaultStorages, saveStorages, storageConfigFile } from '../../storage/index.js';
import { printResult, withOutput, type OutputFormat } from '../output.js';

export const DEFAULT_DATASTORE = 'local';
export const DEFAULT_RETENTION = 'keep-daily=3,keep-weekly=2,keep-monthly=1';

export function initCommand(): Command {
  return withOutput(new Command('init')
    .description('set up the embedded default under GUESTVAULT_HOME: the datastore "local" with the default retention and the default backup jobs (idempotent)'))
    .action((o: { outputFormat: OutputFormat }) => {
      const home = guestvaultHome();
      const existing = loadDatastoreConfigs().find((c) => c.name === DEFAULT_DATASTORE);
      const store = existing
        ? Datastore.open(DEFAULT_DATASTORE)
        : Datastore.create(DEFAULT_DATASTORE, join(home, 'datastores', DEFAULT_DATASTORE), { 'prune-backups': DEFAULT_RETENTION });
      // A fresh installation gets the product's default jobs (an existing jobs.cfg is left alone).
      const newJobs = !existsSync(jobsConfigFile());
      if (newJobs) saveJobs(defaultJobs(DEFAULT_DATASTORE_STORAGE));
      // storage.cfg: the embedded default (dir 'local' for guest disks, 'local-store' for the datastore).
      const newStorages = !existsSync(storageConfigFile());
      if (newStorages) saveStorages(defaultStorages());
      printResult(o.outputFormat, { home, datastore: store.config, created: !existing, 'default-jobs': newJobs, 'default-storages': newStorages }, () => {
        process.stdout.write(`${existing ? 'found' : 'created'} datastore '${DEFAULT_DATASTORE}' at ${store.path} (GUESTVAULT_HOME=${home})\n`);
        if (newStorages) process.stdout.write(`created storage.cfg: dir storage '${defaultStorages()[0]!.id}' (guest disks) and datastore storage '${DEFAULT_DATASTORE_STORAGE}' (datastore '${DEFAULT_DATASTORE}')\n`);
        if (newJobs) process.stdout.write('created the default backup jobs: default-weekdays (mon..fri 23:00) and default-sunday (sun 01:00), keep-daily=3,keep-weekly=2,keep-monthly=1\n');
      });
    });
}
