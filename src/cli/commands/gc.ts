import { Command } from 'commander';
import { DEFAULT_GC_ATIME_CUTOFF_MINUTES, garbageCollect, readGcStatus } from '../../datastore/index.js';
import { formatDuration, formatSize, makeUpid, stderrSink } from '../../tasks/index.js';
import { currentAuthId, openStore } from '../context.js';
import { note, printResult, withOutput, type OutputFormat } from '../output.js';

export function gcCommand(): Command {
  const cmd = withOutput(new Command('gc')
    .description('garbage collection: remove chunks that no snapshot references any more (after the grace period, gc-atime-cutoff)')
    .requiredOption('--store <name>', 'datastore')
    .option('--status', 'only show the result of the last garbage collection'))
    .action(async (o: { store: string; status?: boolean; outputFormat: OutputFormat }) => {
      const { store } = openStore(o);
      if (o.status) {
        const last = readGcStatus(store);
        printResult(o.outputFormat, last ?? null, () => process.stdout.write(last ? `${JSON.stringify(last, null, 2)}\n` : 'no garbage collection has run yet\n'));
        return;
      }
      const sink = stderrSink();
      const text = o.outputFormat === 'text';
      const s = await garbageCollect(store, {
        upid: makeUpid('garbage_collection', store.name, currentAuthId()),
        cutoffMinutes: Number(store.config['gc-atime-cutoff'] ?? DEFAULT_GC_ATIME_CUTOFF_MINUTES),
        log: (line) => {
          sink.clear();
          if (text) note(line);
        },
        progress: (phase, done, total) => sink.update(phase === 1 ? `phase 1: ${done} index files marked` : `phase 2: ${Math.floor((done / total) * 100)}% of chunk directories swept`),
      });
      sink.clear();
      printResult(o.outputFormat, s, () => {
        const w = process.stdout;
        w.write(`Removed garbage: ${formatSize(s['removed-bytes'])} in ${s['removed-chunks']} chunks${s['removed-bad'] ? `, ${s['removed-bad']} bad copies` : ''}${s['removed-temp-files'] ? `, ${s['removed-temp-files']} temp files` : ''}\n`);
        w.write(`Pending removals: ${formatSize(s['pending-bytes'])} in ${s['pending-chunks']} chunks (inside the grace period)\n`);
        w.write(`Original data usage: ${formatSize(s['index-data-bytes'])} in ${s['index-file-count']} index files\n`);
        w.write(`On-disk usage: ${formatSize(s['disk-bytes'])} in ${s['disk-chunks']} chunks\n`);
        w.write(`Deduplication factor: ${s['dedup-factor'].toFixed(2)}\n`);
        w.write(`Average chunk size: ${formatSize(s['average-chunk-size'])}\n`);
        if (s['missing-chunks']) w.write(`Missing chunks: ${s['missing-chunks']} (run verify)\n`);
        w.write(`Duration: ${formatDuration(s['end-time'] - s['start-time'])}\n`);
      });
    });
  return cmd;
}
