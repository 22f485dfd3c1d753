import { Command } from 'commander';
import { ChunkPool, SnapshotReader, catalogName, parseSnapshot, restoreImage, restoreTree } from '../../datastore/index.js';
import { GuestvaultError } from '../../errors.js';
import { writeFileSync } from 'node:fs';
import { formatDuration, formatSize, stderrSink } from '../../tasks/index.js';
import { openStore } from '../context.js';
import { loadKeyFile } from '../keys.js';
import { note, printResult, withOutput, type OutputFormat } from '../output.js';

export function restoreCommand(): Command {
  return withOutput(new Command('restore')
    .description('restore one archive of a snapshot: an image to a file, block device or stdout (-); a directory archive into a directory; a file blob to a file or stdout')
    .argument('<snapshot>', 'e.g. vm/100/2026-11-27T23:00:00Z')
    .argument('<archive>', 'archive name, e.g. disk.img, root.tar, vm.conf')
    .argument('<target>', 'target file, block device, directory, or - for stdout')
    .requiredOption('--store <name>', 'datastore')
    .option('--ns <namespace>', 'namespace')
    .option('--keyfile <file>', 'key of an encrypted snapshot')
    .option('--path <path>', 'restore only this file or subtree of a .tar archive (found through its catalog)')
    .option('--force', 'replace an existing target file'))
    .action(async (snapshot: string, archive: string, target: string, o: { store: string; ns?: string; keyfile?: string; path?: string; force?: boolean; outputFormat: OutputFormat }) => {
      const { store, ns } = openStore(o);
      const ref = parseSnapshot(snapshot, ns);
      const crypt = o.keyfile ? await loadKeyFile(o.keyfile) : undefined;
      const reader = SnapshotReader.open(store, ref, crypt);
      const file = reader.file(archive);
      const sink = stderrSink();
      const started = Date.now();
      const key = reader.crypt?.encKey;
      let warnings = 0;
      const warn = (msg: string) => {
        warnings++;
        sink.clear();
        note(`warning: ${msg}`);
      };
      if (o.path !== undefined && !file.filename.endsWith('.didx')) {
        throw new GuestvaultError('E_USAGE', '--path works only with directory (.tar) archives');
      }
      let size = file.size;
      if (file.filename.endsWith('.blob')) {
        const data = reader.blob(file);
        if (target === '-') process.stdout.write(data);
        else writeFileSync(target, data, { flag: o.force ? 'w' : 'wx' });
        size = data.length;
      } else {
        const pool = new ChunkPool();
        try {
          if (file.filename.endsWith('.fidx')) {
            await restoreImage(reader.fixedIndex(file), target === '-' ? process.stdout : target,
              { pool, store: store.path, key, progress: sink, label: file.filename, force: o.force });
          } else {
            if (target === '-') throw new GuestvaultError('E_USAGE', 'a directory archive restores into a directory, not stdout');
            const catalogFile = o.path !== undefined ? reader.manifest.files.find((f) => f.filename === `${catalogName(file.filename)}.blob`) : undefined;
            const res = await restoreTree(reader.dynamicIndex(file), target, {
              pool, store: store.path, key, progress: sink, label: file.filename, warn,
              ...(o.path !== undefined ? { path: o.path, ...(catalogFile ? { catalog: reader.blob(catalogFile) } : {}) } : {}),
            });
            size = res.bytes;
          }
        } finally {
          await pool.close();
        }
      }
      const seconds = (Date.now() - started) / 1000;
      if (target === '-') return;
      printResult(o.outputFormat, { snapshot: reader.name, archive: file.filename, target, bytes: size, seconds, warnings }, () =>
        process.stdout.write(`restored ${file.filename} of ${reader.name} to ${target}: ${formatSize(size)} in ${formatDuration(seconds)}${warnings ? `, ${warnings} warning(s)` : ''}\n`));
    });
}
