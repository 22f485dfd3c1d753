import { Command } from 'commander';
import {
  BackupSession, addSpecs, checkBackupId, formatSnapshot, parseBackupSpec, parseBackupType, summaryLine,
} from '../../datastore/index.js';
import { GuestvaultError } from '../../errors.js';
import { formatDuration, stderrSink } from '../../tasks/index.js';
import { currentAuthId, openStore } from '../context.js';
import { loadKeyFile } from '../keys.js';
import { note, printResult, withOutput, type OutputFormat } from '../output.js';


export function backupCommand(): Command {
  return withOutput(new Command('backup')
    .description('back up images, directories and files into one new snapshot of a backup group')
    .argument('<spec...>', 'NAME.img:IMAGE (raw image or block device), NAME.tar:DIRECTORY, NAME.conf:FILE')
    .requiredOption('--store <name>', 'datastore')
    .option('--ns <namespace>', 'namespace, e.g. a/b')
    .option('--backup-type <type>', 'vm, ct or host', 'host')
    .requiredOption('--backup-id <id>', 'backup id, e.g. the VM id')
    .option('--keyfile <file>', 'encrypt with this key')
    .option('--backup-time <epoch>', 'snapshot time in epoch seconds (default: now); must be newer than the group\'s last snapshot')
    .option('--no-skip-unchanged', 'read image files even when size, inode and times show them unchanged since the previous snapshot'))
    .action(async (specs: string[], o: { store: string; ns?: string; backupType: string; backupId: string; keyfile?: string; skipUnchanged: boolean; backupTime?: string; outputFormat: OutputFormat }) => {
      const parsed = specs.map(parseBackupSpec);
      let backupTime: number | undefined;
      if (o.backupTime !== undefined) {
        backupTime = Number(o.backupTime);
        if (!/^\d+$/.test(o.backupTime) || backupTime < 1) throw new GuestvaultError('E_USAGE', `invalid --backup-time '${o.backupTime}': epoch seconds expected`);
      }
      const type = parseBackupType(o.backupType);
      const id = checkBackupId(o.backupId);
      const { store, ns } = openStore(o);
      const crypt = o.keyfile ? await loadKeyFile(o.keyfile) : undefined;
      const sink = stderrSink();
      const started = Date.now();
      const session = await BackupSession.start(store, { ns, type, id }, { crypt, owner: currentAuthId(), notice: note, progress: sink, backupTime });
      const onSignal = (sig: NodeJS.Signals) => {
        sink.clear();
        session.abortSync();
        note(`backup aborted by ${sig}; nothing of ${formatSnapshot(session.snapshot)} was kept`);
        process.exit(sig === 'SIGINT' ? 130 : 143);
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      let warnings = 0;
      const warn = (msg: string) => {
        warnings++;
        sink.clear();
        note(`warning: ${msg}`);
      };
      try {
        if (session.previous) note(`previous snapshot: ${formatSnapshot(session.previous)}`);
        await addSpecs(session, parsed, { skipUnchanged: o.skipUnchanged, warn });
        const snap = await session.finish();
        const result = {
          snapshot: formatSnapshot(snap),
          ns: ns.join('/'),
          'backup-time': snap.time,
          archives: session.stats,
          warnings,
          seconds: (Date.now() - started) / 1000,
          ...(crypt ? { fingerprint: crypt.fingerprintString() } : {}),
        };
        printResult(o.outputFormat, result, () => {
          for (const s of session.stats) process.stdout.write(`${summaryLine(s)}\n`);
          process.stdout.write(`snapshot ${result.snapshot} finished in ${formatDuration(result.seconds)}${warnings ? ` with ${warnings} warning(s)` : ''}\n`);
        });
      } catch (err) {
        sink.clear();
        await session.abort();
        throw err;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
