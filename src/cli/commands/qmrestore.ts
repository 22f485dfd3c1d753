import { Command, Option } from 'commander';
import { formatSnapshot } from '../../datastore/index.js';
import { GuestvaultError } from '../../errors.js';
import { DEFAULT_DATASTORE_STORAGE, DEFAULT_DIR_STORAGE, type VolumeFormat } from '../../storage/index.js';
import { TaskLog } from '../../tasks/index.js';
import { parseRestoreSource, restoreVm, type VmRestoreResult } from '../../vzdump/index.js';
import { currentAuthId } from '../context.js';
import { loadKeyFile } from '../keys.js';
import { printResult, withOutput, type OutputFormat } from '../output.js';
import { reportError } from '../report-error.js';

interface QmrestoreCli {
  storage?: string;
  sourceStorage: string;
  force?: boolean;
  disk?: string;
  keyfile?: string;
  format?: VolumeFormat;
  quiet?: boolean;
  outputFormat: OutputFormat;
}

export function qmrestoreCommand(): Command {
  return withOutput(new Command('qmrestore')
    .description('restore a VM backup, as Proxmox\'s qmrestore: config and disks as a new VM, over a stopped VM (--force), or one disk (--disk)')
    .argument('<snapshot|archive>', 'STORAGE:backup/vm/<id>/<time>, vm/<id>/<time> (on --source-storage), STORAGE:backup/<archive file> or the path of a .vma[.zst|.gz|.lzo] archive')
    .argument('<vmid>', 'the VM to create (or to restore over with --force)')
    .option('--storage <id>', `dir storage for the new disk volumes (default ${DEFAULT_DIR_STORAGE})`)
    .option('--source-storage <id>', 'datastore storage of a vm/<id>/<time> snapshot', DEFAULT_DATASTORE_STORAGE)
    .option('--force', 'restore over an existing VM (it must be stopped); its old volumes are removed after the restore')
    .option('--disk <key>', 'restore only this disk (e.g. scsi0) of an existing, stopped VM over its current volume; the config stays')
    .option('--keyfile <file>', 'key of an encrypted snapshot (archives are not encrypted)')
    .addOption(new Option('--format <format>', 'format of the new volumes (default: that of the backed-up volume)').choices(['qcow2', 'raw']))
    .option('--quiet', 'no log on stderr (the task log is still written)'))
    .action(async (spec: string, vmid: string, o: QmrestoreCli) => {
      const source = parseRestoreSource(spec, o.sourceStorage);
      if (!/^[1-9]\d{2,8}$/.test(vmid)) throw new GuestvaultError('E_USAGE', `invalid VMID '${vmid}': a number from 100 to 999999999`);
      const crypt = o.keyfile ? await loadKeyFile(o.keyfile) : undefined;
      const task = new TaskLog('qmrestore', vmid, currentAuthId(), o.quiet || o.outputFormat !== 'text' ? undefined : (l) => process.stderr.write(`${l}\n`));
      // The first SIGINT/SIGTERM stops the restore, which removes what it created; a second one exits at once.
      const abort = new AbortController();
      let exitCode = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        if (abort.signal.aborted) process.exit(sig === 'SIGINT' ? 130 : 143);
        exitCode = sig === 'SIGINT' ? 130 : 143;
        task.log(`received ${sig}: aborting the restore and cleaning up`);
        abort.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let result: VmRestoreResult;
      try {
        result = await restoreVm({
          source, vmid, storage: o.storage, force: o.force, disk: o.disk, format: o.format, crypt,
          log: (l) => task.log(l), warn: (l) => task.warn(l), signal: abort.signal,
        });
        task.finish();
      } catch (err) {
        task.finish(err);
        if (!exitCode) throw err;
        // Cleaned up after a signal: end as a killed process would, with the error said once.
        reportError(err);
        process.exit(exitCode);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      const from = source.kind === 'snapshot' ? `${source.storage}:backup/${formatSnapshot(source.snapshot)}` : source.storage ? `${source.storage}:backup/${source.file}` : source.file;
      printResult(o.outputFormat, { ...result, upid: task.upid }, () => process.stdout.write(o.disk !== undefined
        ? `restored disk ${o.disk} of VM ${vmid} from ${from}\n`
        : `restored VM ${vmid} from ${from}: ${result.disks.map((d) => `${d.key} ${d.volid}`).join(', ') || 'no disks'}\n`));
    });
}
