import { Command } from 'commander';
import { Datastore, loadDatastoreConfigs } from '../../datastore/index.js';
import { printResult, printTable, withOutput, type OutputFormat } from '../output.js';

export function datastoreCommand(): Command {
  const cmd = new Command('datastore').description('create and list datastores');
  withOutput(cmd.command('create')
    .description('create a datastore (the Proxmox Backup Server layout) in an empty or new directory and register it')
    .argument('<name>', 'datastore name')
    .argument('<path>', 'directory for the datastore')
    .option('--comment <text>', 'a comment')
    .option('--prune-backups <keep>', 'default retention, e.g. keep-daily=3,keep-weekly=2,keep-monthly=1'))
    .action((name: string, path: string, o: { comment?: string; pruneBackups?: string; outputFormat: OutputFormat }) => {
      const store = Datastore.create(name, path, { ...(o.comment ? { comment: o.comment } : {}), ...(o.pruneBackups ? { 'prune-backups': o.pruneBackups } : {}) });
      printResult(o.outputFormat, store.config, () => process.stdout.write(`created datastore '${name}' at ${store.path}\n`));
    });
  withOutput(cmd.command('list').description('list the configured datastores'))
    .action((o: { outputFormat: OutputFormat }) => {
      const all = loadDatastoreConfigs();
      printResult(o.outputFormat, all, () => printTable(['name', 'path', 'comment'], all.map((c) => [c.name, c.path, c.comment ?? ''])));
    });
  return cmd;
}
