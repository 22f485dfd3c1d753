// The backup code is imported only when the command runs: the daemon loads this file to parse
// the command lines handed over to it (parseHandedOver).
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { parseCompress } from '../../storage/compression.js';
import { GuestvaultError } from '../../errors.js';
import { localNodeName } from '../../jobs/node-name.js';
import { processAuthId } from '../../process-user.js';
import type { BackupMode } from '../../vzdump/vm-backup.js';
import type { VzdumpRequest } from '../../vzdump/vzdump-defaults.js';
import type { VzdumpTaskResult } from '../../vzdump/vzdump-task.js';
import { vzdumpFailureMessage } from '../vzdump-client.cjs';
import type { ParsedCommandLine } from '../../server/cli-socket.js';
import { printResult, withOutput, type OutputFormat } from '../output.js';

interface VzdumpCli {
  all?: boolean;
  exclude?: string;
  storage?: string;
  dumpdir?: string;
  stdout?: boolean;
  mode?: BackupMode;
  stopwait?: string;
  lockwait?: string;
  script?: string;
  notesTemplate?: string;
  protected?: string;
  pruneBackups?: string;
  remove?: string;
  node?: string;
  quiet?: boolean;
  keyfile?: string;
  compress?: string;
  zstd?: string;
  pigz?: string;
  bwlimit?: string;
  ionice?: string;
  outputFormat: OutputFormat;
}

/**
 * Why a daemon may not run this backup for the client that handed it over: a key and its
 * passphrase, standard output and a hook script found by PATH or relative to the shell are
 * only the client's.
 */
function handOffBlocker(o: VzdumpCli): string | undefined {
  if (o.keyfile) return '--keyfile';
  if (o.stdout) return '--stdout';
  if (o.script !== undefined && !o.script.startsWith('/')) return 'a --script that is not an absolute path';
  return undefined;
}

function minutes(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new GuestvaultError('E_USAGE', `--${what} must be whole minutes, not '${v}'`);
  return Number(v);
}

function threads(v: string | undefined, option: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > 256) throw new GuestvaultError('E_USAGE', `invalid value '${v}' for --${option}: a number of threads from 0 to 256`);
  return Number(v);
}

function ranged(v: string | undefined, option: string, max: number, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > max) throw new GuestvaultError('E_USAGE', `invalid value '${v}' for --${option}: ${what}`);
  return Number(v);
}

/** The command's arguments and options: the command's own, and the daemon's parser of a handed-over command line. */
function vzdumpOptions(): Command {
  return withOutput(new Command('vzdump')
    .description('back up guests now, as Proxmox\'s vzdump: into a datastore storage, or as archives into a dir storage, a directory or standard output; defaults from etc/vzdump.conf')
    .argument('[vmid...]', 'guests to back up')
    .option('--all', 'all guests on this node')
    .option('--exclude <vmids>', 'guests to leave out (implies --all)')
    .option('--storage <id>', 'target storage (storage.cfg; default local-store)')
    .option('--dumpdir <dir>', 'write the archives into this directory instead of a storage')
    .option('--stdout', "write the one guest's archive to standard output")
    .addOption(new Option('--mode <mode>', 'backup mode (default snapshot)').choices(['snapshot', 'suspend', 'stop']))
    .option('--stopwait <minutes>', 'how long to wait for a guest to shut down in stop mode (default 10)')
    .option('--lockwait <minutes>', 'how long to wait for the node-wide vzdump lock, held by another run (default 180)')
    .option('--bwlimit <KiB/s>', 'read guest disks at most this fast (0: no limit)')
    .option('--ionice <0-8>', 'I/O priority: 0 (highest) to 7 best-effort, 8 idle (default 7)')
    .option('--script <path>', 'hook script, called with the phase, mode and vmid')
    .option('--notes-template <template>', 'notes for each new backup ({{guestname}}, {{vmid}}, {{node}}, {{cluster}})')
    .addOption(new Option('--protected <0|1>', 'mark the new backups protected').choices(['0', '1']))
    .option('--prune-backups <keep>', 'retention instead of the storage\'s (keep-last=N,keep-daily=N,...)')
    .addOption(new Option('--remove <0|1>', 'prune older backups afterwards (default 1)').choices(['0', '1']))
    .option('--node <node>', 'only run on this node')
    .option('--keyfile <file>', 'encrypt with this key (default: the storage\'s encryption-key)')
    .option('--compress <0|1|gzip|lzo|zstd>', 'archive compression on a dir storage (1 = lzo; datastores always compress their chunks; default 0)')
    .option('--zstd <threads>', 'zstd threads (0 = half the cores; default 1)')
    .option('--pigz <threads>', 'gzip with pigz and N threads (1 = half the cores; 0 = plain gzip; default 0)')
    .option('--quiet', 'no log on stderr (the task log is still written)'));
}

/** Check the arguments and build the request; undefined when --node names another node. */
function vzdumpRequest(vmids: string[], o: VzdumpCli, node: string, cwd: string): VzdumpRequest | undefined {
  if (vmids.length && (o.all || o.exclude)) throw new GuestvaultError('E_USAGE', 'give VMIDs or --all/--exclude, not both');
  if (!vmids.length && !o.all && !o.exclude) throw new GuestvaultError('E_USAGE', 'nothing to back up: give VMIDs or --all');
  for (const id of vmids) if (!/^[1-9]\d{2,8}$/.test(id)) throw new GuestvaultError('E_USAGE', `invalid VMID '${id}'`);
  if (o.node && o.node !== node) return undefined;
  if (o.compress !== undefined) parseCompress(o.compress);
  return {
    vmid: vmids.length ? vmids : undefined,
    all: o.all || !!o.exclude || undefined,
    exclude: o.exclude?.split(/[,;\s]+/).filter(Boolean),
    storage: o.storage,
    dumpdir: o.dumpdir === undefined ? undefined : resolve(cwd, o.dumpdir),
    stdout: o.stdout,
    mode: o.mode,
    stopwait: minutes(o.stopwait, 'stopwait'),
    lockwait: minutes(o.lockwait, 'lockwait'),
    bwlimit: ranged(o.bwlimit, 'bwlimit', 2 ** 31, 'KiB/s, 0 for no limit'),
    ionice: ranged(o.ionice, 'ionice', 8, 'a priority from 0 to 8'),
    script: o.script,
    'notes-template': o.notesTemplate,
    protected: o.protected === undefined ? undefined : o.protected === '1',
    'prune-backups': o.pruneBackups,
    remove: o.remove === undefined ? undefined : o.remove !== '0',
    compress: o.compress,
    zstd: threads(o.zstd, 'zstd'),
    pigz: threads(o.pigz, 'pigz'),
  };
}

export function vzdumpCommand(): Command {
  return vzdumpOptions()
    .action(async (vmids: string[], o: VzdumpCli) => {
      const node = localNodeName();
      const request = vzdumpRequest(vmids, o, node, process.cwd());
      if (!request) {
        process.stderr.write(`not running: --node ${o.node} is not this node (${node})\n`);
        return;
      }
      const echo = o.quiet || o.outputFormat !== 'text' ? undefined : (l: string) => process.stderr.write(`${l}\n`);
      // The first SIGINT/SIGTERM stops the run after cleaning up (thaw, resume, teardown); a second one exits at once.
      const abort = new AbortController();
      let abortRun: (why: string) => void = () => undefined;
      const onSignal = (sig: NodeJS.Signals) => {
        if (abort.signal.aborted) process.exit(sig === 'SIGINT' ? 130 : 143);
        abort.abort();
        abortRun(`received ${sig}: aborting the backup and cleaning up`);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let r: VzdumpTaskResult;
      try {
        const [{ vzdumpTask }, crypt] = await Promise.all([import('../../vzdump/vzdump-task.js'), o.keyfile ? import('../keys.js').then((k) => k.loadKeyFile(o.keyfile!)) : undefined]);
        r = await vzdumpTask({ ...request, crypt }, {
          user: processAuthId(), node, echo, signal: abort.signal,
          onTask: (task) => {
            abortRun = (why) => task.log(why);
            if (abort.signal.aborted) task.log('received a signal: aborting the backup and cleaning up');
          },
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      // With --stdout, standard output holds the archive and nothing else.
      if (!o.stdout) printResult(o.outputFormat, { upid: r.upid, status: r.status, snapshots: r.snapshots, log: r.log }, () => undefined);
      if (abort.signal.aborted) process.exit(143);
      if (r.failed) throw new GuestvaultError('E_JOB_ERRORS', vzdumpFailureMessage(r));
    });
}

/**
 * The daemon's parse of a command line handed over by `guestvault vzdump`. Whatever is not a
 * plain backup this daemon can run is declined, and the client then runs the command itself:
 * help, every usage error (so that its message and exit code are the command's own), --node of
 * another node, and what only the client has (handOffBlocker).
 */
export function parseHandedOver(args: string[], cwd: string, node: string): ParsedCommandLine | { declined: string } {
  const cmd = vzdumpOptions().exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  let o: VzdumpCli;
  let request: VzdumpRequest | undefined;
  try {
    cmd.parse(args, { from: 'user' });
    o = cmd.opts<VzdumpCli>();
    request = vzdumpRequest((cmd.processedArgs[0] as string[] | undefined) ?? [], o, node, cwd);
  } catch (err) {
    return { declined: `not a command line the daemon runs (${(err as Error).message})` };
  }
  if (!request) return { declined: `--node ${o.node} is not this node` };
  const blocker = handOffBlocker(o);
  if (blocker) return { declined: `${blocker} stays with the command line` };
  const handed = Object.fromEntries(Object.entries(request).filter(([, v]) => v !== undefined)) as VzdumpRequest;
  // The client shows the task log unless --quiet or JSON output.
  return { echo: !o.quiet && o.outputFormat === 'text', format: o.outputFormat, run: async (ctx) => (await import('../../vzdump/vzdump-task.js')).vzdumpTask(handed, ctx) };
}
