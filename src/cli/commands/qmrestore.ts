import { Command, Option } from 'commander';
import { formatSnapshot } from '../../datastore/index.js';
import type { CryptConfig } from '../../formats/index.js';
import { GuestvaultError } from '../../errors.js';
import { DEFAULT_DATASTORE_STORAGE, DEFAULT_DIR_STORAGE, type VolumeFormat } from '../../storage/index.js';
import { TaskLog } from '../../tasks/index.js';
import { parseRestoreSource, restoreVm, type VmRestoreOptions, type VmRestoreResult } from '../../vzdump/index.js';
import type { ParsedCommandLine } from '../../server/cli-socket.js';
import { currentAuthId } from '../context.js';
import { loadKeyFile } from '../keys.js';
import { withOutput, type OutputFormat } from '../output.js';
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

/** One qmrestore, as the command line gives it (paths already absolute). */
type QmrestoreRequest = Pick<VmRestoreOptions, 'source' | 'vmid' | 'storage' | 'force' | 'disk' | 'format'>;

interface QmrestoreTaskResult extends VmRestoreResult {
  upid: string;
}

/** The command's grammar, shared by the command and the daemon's parse of a handed-over line. */
function qmrestoreOptions(): Command {
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
    .option('--quiet', 'no log on stderr (the task log is still written)'));
}

function qmrestoreRequest(spec: string, vmid: string, o: QmrestoreCli, cwd: string): QmrestoreRequest {
  const source = parseRestoreSource(spec, o.sourceStorage, cwd);
  if (!/^[1-9]\d{2,8}$/.test(vmid)) throw new GuestvaultError('E_USAGE', `invalid VMID '${vmid}': a number from 100 to 999999999`);
  return { source, vmid, storage: o.storage, force: o.force, disk: o.disk, format: o.format };
}

/** The restore as a task (the CLI's own, or the daemon's for a handed-over command line). */
async function qmrestoreTask(req: QmrestoreRequest, ctx: { user: string; crypt?: CryptConfig; signal?: AbortSignal; echo?: (line: string) => void; onTask?: (task: TaskLog) => void }): Promise<QmrestoreTaskResult> {
  const task = new TaskLog('qmrestore', req.vmid, ctx.user, ctx.echo);
  ctx.onTask?.(task);
  try {
    const result = await restoreVm({ ...req, crypt: ctx.crypt, log: (l) => task.log(l), warn: (l) => task.warn(l), signal: ctx.signal });
    task.finish();
    return { ...result, upid: task.upid };
  } catch (err) {
    task.finish(err);
    throw err;
  }
}

/** What the command prints on success: JSON, or one line of text. */
function resultOutput(req: QmrestoreRequest, result: QmrestoreTaskResult, format: OutputFormat): string {
  if (format === 'json') return `${JSON.stringify(result)}\n`;
  if (format === 'json-pretty') return `${JSON.stringify(result, null, 2)}\n`;
  const s = req.source;
  const from = s.kind === 'snapshot' ? `${s.storage}:backup/${formatSnapshot(s.snapshot)}` : s.storage ? `${s.storage}:backup/${s.file}` : s.file;
  return req.disk !== undefined
    ? `restored disk ${req.disk} of VM ${req.vmid} from ${from}\n`
    : `restored VM ${req.vmid} from ${from}: ${result.disks.map((d) => `${d.key} ${d.volid}`).join(', ') || 'no disks'}\n`;
}

export function qmrestoreCommand(): Command {
  return qmrestoreOptions().action(async (spec: string, vmid: string, o: QmrestoreCli) => {
    const req = qmrestoreRequest(spec, vmid, o, process.cwd());
    const crypt = o.keyfile ? await loadKeyFile(o.keyfile) : undefined;
    // The first SIGINT/SIGTERM stops the restore, which removes what it created; a second one exits at once.
    const abort = new AbortController();
    let task: TaskLog | undefined;
    let exitCode = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (abort.signal.aborted) process.exit(sig === 'SIGINT' ? 130 : 143);
      exitCode = sig === 'SIGINT' ? 130 : 143;
      task?.log(`received ${sig}: aborting the restore and cleaning up`);
      abort.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let result: QmrestoreTaskResult;
    try {
      result = await qmrestoreTask(req, {
        user: currentAuthId(), crypt, signal: abort.signal,
        echo: o.quiet || o.outputFormat !== 'text' ? undefined : (l) => process.stderr.write(`${l}\n`),
        onTask: (t) => (task = t),
      });
    } catch (err) {
      if (!exitCode) throw err;
      // Cleaned up after a signal: end as a killed process would, with the error said once.
      reportError(err);
      process.exit(exitCode);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    process.stdout.write(resultOutput(req, result, o.outputFormat));
  });
}

/** What the daemon sends back for a handed-over qmrestore: the client's output, made here. */
export interface HandedOverRestoreResult {
  stdout: string;
}

/**
 * The daemon's parse of a command line handed over by `guestvault qmrestore` (see
 * src/cli/vzdump-client.cts). Declined, so that the client runs it itself: help, every usage
 * error (its message and exit code are then the command's own), and --keyfile (its passphrase
 * may have to be asked for on the client's terminal).
 */
export function parseHandedOverRestore(args: string[], cwd: string): ParsedCommandLine | { declined: string } {
  const cmd = qmrestoreOptions().exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  let o: QmrestoreCli;
  let req: QmrestoreRequest;
  try {
    cmd.parse(args, { from: 'user' });
    o = cmd.opts<QmrestoreCli>();
    const [spec, vmid] = cmd.processedArgs as [string, string];
    req = qmrestoreRequest(spec, vmid, o, cwd);
  } catch (err) {
    return { declined: `not a command line the daemon runs (${(err as Error).message})` };
  }
  if (o.keyfile) return { declined: '--keyfile stays with the command line' };
  const format = o.outputFormat;
  return {
    echo: !o.quiet && format === 'text',
    format,
    run: async (ctx): Promise<HandedOverRestoreResult> => {
      const restore = await qmrestoreTask(req, ctx);
      return { stdout: resultOutput(req, restore, format) };
    },
  };
}
