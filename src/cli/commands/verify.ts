import { Command } from 'commander';
import { ChunkPool, parseGroupOrSnapshot, verifySnapshots, type SnapshotRef } from '../../datastore/index.js';
import { makeUpid, stderrSink } from '../../tasks/index.js';
import { currentAuthId, openStore } from '../context.js';
import { note, printResult, withOutput, type OutputFormat } from '../output.js';

export function verifyCommand(): Command {
  return withOutput(new Command('verify')
    .description('re-read and check every chunk of the snapshots; corrupt chunks are renamed to <digest>.<n>.bad; exit code 1 when anything is bad')
    .argument('[target]', 'a snapshot (vm/100/TIME) or group (vm/100); default: every snapshot in the namespace and below')
    .requiredOption('--store <name>', 'datastore')
    .option('--ns <namespace>', 'namespace'))
    .action(async (target: string | undefined, o: { store: string; ns?: string; outputFormat: OutputFormat }) => {
      const { store, ns } = openStore(o);
      let refs: SnapshotRef[];
      if (target) {
        const r = parseGroupOrSnapshot(target, ns);
        refs = 'time' in r ? [r] : store.listSnapshots(r, note).map((s) => s.ref);
        if ('time' in r) store.loadManifest(r); // A typed error when it does not exist.
      } else {
        refs = store.listNamespaces().filter((n) => n.slice(0, ns.length).join('/') === ns.join('/'))
          .flatMap((n) => store.listGroups(n)).flatMap((g) => store.listSnapshots(g, note).map((s) => s.ref));
      }
      const pool = new ChunkPool();
      const upid = makeUpid('verify', store.name, currentAuthId());
      let results;
      try {
        results = await verifySnapshots(store, refs, { pool, upid, progress: stderrSink(), log: o.outputFormat === 'text' ? note : undefined });
      } finally {
        await pool.close();
      }
      const failed = results.filter((r) => r.state === 'failed');
      printResult(o.outputFormat, { upid, snapshots: results, ok: failed.length === 0 }, () => {
        for (const r of results) {
          process.stdout.write(`${r.snapshot}: ${r.state}\n`);
          for (const p of r.problems) {
            process.stdout.write(`  ${p.archive}${p.chunk ? ` chunk ${p.chunk}` : ''}: ${p.message}${p.renamedTo ? ` (moved to ${p.renamedTo})` : ''}\n`);
          }
        }
        process.stdout.write(`verified ${results.length} snapshot(s): ${failed.length === 0 ? 'all ok' : `${failed.length} failed`}\n`);
      });
      if (failed.length > 0) process.exitCode = 1;
    });
}
