import { Command } from 'commander';
import { parseGroupOrSnapshot, pruneGroup, type Datastore, type PruneEntry } from '../../datastore/index.js';
import { GuestvaultError } from '../../errors.js';
import { formatKeepOptions, parseKeepOptions, type KeepOptions } from '../../retention/index.js';
import { openStore } from '../context.js';
import { addKeepOptionFlags, keepOptionsFromFlags } from '../keep-options.js';
import { printResult, printTable, withOutput, type OutputFormat } from '../output.js';

/** Keep options from the flags, else the datastore's default retention, else an error. */
function keepFor(store: Datastore, flags: Record<string, unknown>): KeepOptions {
  const fromFlags = keepOptionsFromFlags(flags);
  if (fromFlags) return fromFlags;
  const def = store.config['prune-backups'];
  if (def) return parseKeepOptions(def);
  throw new GuestvaultError('E_USAGE', `no keep options given and datastore '${store.name}' has no default retention (prune-backups)`);
}

function printEntries(format: OutputFormat, entries: PruneEntry[], dryRun: boolean, keep: KeepOptions): void {
  printResult(format, entries, () => {
    printTable(['snapshot', 'mark', 'reason'], entries.map((e) => [e.ns ? `${e.ns}:${e.snapshot}` : e.snapshot, e.mark, e.reason]));
    const removed = entries.filter((e) => e.removed).length;
    process.stdout.write(`${dryRun ? 'would remove' : 'removed'} ${removed} of ${entries.length} snapshot(s) (${formatKeepOptions(keep) || 'keep-all'})\n`);
  });
}

export function pruneCommand(): Command {
  return withOutput(addKeepOptionFlags(new Command('prune')
    .description('remove the snapshots of a group that the keep options do not keep, and say why each one stays or goes; without keep options the datastore\'s default retention applies')
    .argument('<group>', 'backup group, e.g. vm/100')
    .requiredOption('--store <name>', 'datastore')
    .option('--ns <namespace>', 'namespace')
    .option('--dry-run', 'only show what would be kept and removed')))
    .action(async (group: string, o: Record<string, unknown> & { store: string; ns?: string; dryRun?: boolean; outputFormat: OutputFormat }) => {
      const { store, ns } = openStore(o);
      const g = parseGroupOrSnapshot(group, ns);
      if ('time' in g) throw new GuestvaultError('E_USAGE', `'${group}' is a snapshot; prune takes a group (use forget for one snapshot)`);
      if (store.listSnapshots(g).length === 0 && !store.listGroups(ns).some((x) => x.type === g.type && x.id === g.id)) {
        throw new GuestvaultError('E_GROUP_UNKNOWN', `backup group ${group} does not exist in datastore '${store.name}'`);
      }
      const keep = keepFor(store, o);
      const entries = await pruneGroup(store, { ns: g.ns, type: g.type, id: g.id }, keep, { dryRun: o.dryRun === true });
      printEntries(o.outputFormat, entries, o.dryRun === true, keep);
    });
}

export function pruneDatastoreCommand(): Command {
  return withOutput(addKeepOptionFlags(new Command('prune-datastore')
    .description('prune every group of a datastore (in a namespace and below) with the keep options or the datastore\'s default retention')
    .requiredOption('--store <name>', 'datastore')
    .option('--ns <namespace>', 'start at this namespace')
    .option('--dry-run', 'only show what would be kept and removed')))
    .action(async (o: Record<string, unknown> & { store: string; ns?: string; dryRun?: boolean; outputFormat: OutputFormat }) => {
      const { store, ns } = openStore(o);
      const keep = keepFor(store, o);
      const entries: PruneEntry[] = [];
      for (const n of store.listNamespaces().filter((x) => x.slice(0, ns.length).join('/') === ns.join('/'))) {
        for (const g of store.listGroups(n)) entries.push(...(await pruneGroup(store, g, keep, { dryRun: o.dryRun === true })));
      }
      printEntries(o.outputFormat, entries, o.dryRun === true, keep);
    });
}
