import { Command } from 'commander';
import { Datastore, findDatastoreConfig, loadDatastoreConfigs, saveDatastoreConfigs, type DatastoreConfig } from '../../datastore/index.js';
import { GuestvaultError } from '../../errors.js';
import { formatKeepOptions, parseKeepOptions } from '../../retention/index.js';

interface StoreSettings {
  comment?: string;
  pruneBackups?: string;
  gcAtimeCutoff?: string;
}

/** Validated datastore.cfg properties from command-line options (prune-backups in canonical form). */
function settings(o: StoreSettings): Partial<DatastoreConfig> {
  const out: Partial<DatastoreConfig> = {};
  if (o.comment !== undefined) out.comment = o.comment;
  if (o.pruneBackups !== undefined) out['prune-backups'] = formatKeepOptions(parseKeepOptions(o.pruneBackups));
  if (o.gcAtimeCutoff !== undefined) {
    if (!/^\d+$/.test(o.gcAtimeCutoff) || Number(o.gcAtimeCutoff) < 1 || Number(o.gcAtimeCutoff) > 2880) {
      throw new GuestvaultError('E_USAGE', `--gc-atime-cutoff must be minutes from 1 to 2880, not '${o.gcAtimeCutoff}'`);
    }
    out['gc-atime-cutoff'] = o.gcAtimeCutoff;
  }
  return out;
}
import { printResult, printTable, withOutput, type OutputFormat } from '../output.js';

export function datastoreCommand(): Command {
  const cmd = new Command('datastore').description('create and list datastores');
  withOutput(cmd.command('create')
    .description('create a datastore (the Proxmox Backup Server layout) in an empty or new directory and register it')
    .argument('<name>', 'datastore name')
    .argument('<path>', 'directory for the datastore')
    .option('--comment <text>', 'a comment')
    .option('--prune-backups <keep>', 'default retention, e.g. keep-daily=3,keep-weekly=2,keep-monthly=1')
    .option('--gc-atime-cutoff <minutes>', 'how long an unreferenced chunk survives garbage collection (default 1445 = 24 h 5 min)'))
    .action((name: string, path: string, o: StoreSettings & { outputFormat: OutputFormat }) => {
      const store = Datastore.create(name, path, settings(o));
      printResult(o.outputFormat, store.config, () => process.stdout.write(`created datastore '${name}' at ${store.path}\n`));
    });
  withOutput(cmd.command('update')
    .description('change the settings of a datastore')
    .argument('<name>', 'datastore name')
    .option('--comment <text>', 'a comment')
    .option('--prune-backups <keep>', 'default retention, e.g. keep-daily=3,keep-weekly=2,keep-monthly=1')
    .option('--gc-atime-cutoff <minutes>', 'how long an unreferenced chunk survives garbage collection'))
    .action((name: string, o: StoreSettings & { outputFormat: OutputFormat }) => {
      findDatastoreConfig(name);
      const change = settings(o);
      const all = loadDatastoreConfigs().map((c) => (c.name === name ? { ...c, ...change } : c));
      saveDatastoreConfigs(all);
      const updated = all.find((c) => c.name === name)!;
      printResult(o.outputFormat, updated, () => process.stdout.write(`updated datastore '${name}'\n`));
    });
  withOutput(cmd.command('list').description('list the configured datastores'))
    .action((o: { outputFormat: OutputFormat }) => {
      const all = loadDatastoreConfigs();
      printResult(o.outputFormat, all, () => printTable(['name', 'path', 'prune-backups', 'comment'], all.map((c) => [c.name, c.path, c['prune-backups'] ?? '', c.comment ?? ''])));
    });
  return cmd;
}
