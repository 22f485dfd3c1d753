/**
 * `guestvault vzdump …` and `guestvault qmrestore …` (and `vzdump …`, `qmrestore …`) as they
 * start. When a daemon runs, the command line is handed to it over its local socket
 * (src/server/cli-socket.ts): the daemon parses and runs it as one of its tasks, and this
 * process only shows the task log and the result. Otherwise, or when the daemon declines (help,
 * a usage error, what only this process has), the command runs here (vzdump-main.ts, or the
 * whole program for qmrestore).
 *
 * Why CommonJS and on its own (only Node's modules, none of ours): a small incremental backup
 * takes about half a second, and Node's ES module loader with the half-dozen small files this
 * needed cost ~40 ms of it; commander alone costs ~50 ms more. So the few things this shares
 * with the rest (the socket's place, the node's name, the error line) are written out here.
 */
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

/** What the daemon's vzdump task ended with. */
interface HandoffResult {
  upid: string;
  status: string;
  snapshots: string[];
  failed: number;
  log: string;
}

/** What the daemon's qmrestore task ended with: the output is made there (HandedOverRestoreResult). */
interface RestoreHandoffResult {
  stdout: string;
}

/** The commands a daemon can take over. */
type HandOffCommand = 'vzdump' | 'qmrestore';

type Reply =
  | { kind: 'declined' }
  | { kind: 'result'; result: unknown; format: string }
  | { kind: 'error'; code: string; message: string };

/** Where the daemon listens for the CLI (as home.ts resolves GUESTVAULT_HOME). */
export function cliSocketPath(): string {
  return join(resolve(process.env.GUESTVAULT_HOME ?? 'var'), 'run', 'guestvault.sock');
}

/** The message a run with failed guests ends with. */
export function vzdumpFailureMessage(r: { status: string; log: string }): string {
  return `vzdump failed: ${r.status} (task log ${r.log})`;
}

export async function main(argv: string[]): Promise<void> {
  const op: HandOffCommand = argv[2] === 'qmrestore' ? 'qmrestore' : 'vzdump';
  if (daemonAvailable() && (await handedOver(op, argv.slice(3)))) return;
  const { main: runHere } = op === 'vzdump' ? await import('./vzdump-main.js') : await import('./main.js');
  await runHere(argv);
}

/**
 * Whether to try a daemon at all: not with GUESTVAULT_NO_DAEMON=1, nor when a GUESTVAULT_*
 * variable (other than the home and node, which decide which daemon) tunes this process.
 */
function daemonAvailable(): boolean {
  if (Object.keys(process.env).some((k) => k.startsWith('GUESTVAULT_') && k !== 'GUESTVAULT_HOME' && k !== 'GUESTVAULT_NODE')) return false;
  return existsSync(cliSocketPath());
}

/** Run the command line in the daemon; false when it declined (or none listens). */
async function handedOver(op: HandOffCommand, args: string[]): Promise<boolean> {
  const socket = createConnection(cliSocketPath());
  let connected = false;
  const send = (msg: unknown) => {
    if (connected && !socket.destroyed) socket.write(`${JSON.stringify(msg)}\n`);
  };
  // The first SIGINT/SIGTERM aborts the run (the daemon cleans up: thaw, resume, teardown; or
  // removes what the restore created); a second one exits at once.
  let aborted: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    // Before the connection is up nothing was asked of the daemon: stop here.
    if (aborted || !connected) process.exit(sig === 'SIGINT' ? 130 : 143);
    aborted = sig;
    send({ op: 'abort', reason: `received ${sig}: aborting the ${op === 'vzdump' ? 'backup' : 'restore'} and cleaning up` });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const reply = await new Promise<Reply>((settle) => {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      connected = true;
      // The daemon checks the node and resolves relative paths against this directory.
      send({ op, args, cwd: process.cwd(), node: process.env.GUESTVAULT_NODE || hostname().split('.')[0] || 'localhost' });
    });
    socket.on('data', (text: string) => {
      buffered += text;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let msg: { log?: string; result?: unknown; format?: string; error?: { code: string; message: string }; declined?: string };
        try {
          msg = JSON.parse(line);
        } catch {
          settle({ kind: 'error', code: 'E_DAEMON_LOST', message: `the daemon sent something that is not a JSON line: ${line.slice(0, 80)}` });
          continue;
        }
        if (msg.log !== undefined) process.stderr.write(`${msg.log}\n`);
        else if (msg.result) settle({ kind: 'result', result: msg.result, format: msg.format ?? 'text' });
        // A daemon older than this client refuses an op it does not know: run the command here.
        else if (msg.error && /^daemon socket: unexpected message /.test(msg.error.message)) settle({ kind: 'declined' });
        else if (msg.error) settle({ kind: 'error', code: msg.error.code, message: msg.error.message });
        else if (msg.declined !== undefined) settle({ kind: 'declined' });
      }
    });
    // Not connected: no daemon listens (a stale socket file); the CLI runs the backup itself.
    socket.on('error', (err) => settle(connected ? { kind: 'error', code: 'E_DAEMON_LOST', message: `lost the connection to the daemon: ${err.message}` } : { kind: 'declined' }));
    socket.on('close', () => settle({ kind: 'error', code: 'E_DAEMON_LOST', message: `the daemon closed the connection before the ${op === 'vzdump' ? 'backup' : 'restore'} ended (see \`guestvault\` task logs)` }));
  });
  socket.destroy();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (reply.kind === 'declined') return false;
  if (reply.kind === 'error') {
    failWith(reply.code, reply.message);
    // A restore stopped by a signal ends as the command does in its own process: 130 or 143.
    if (op === 'qmrestore' && aborted) process.exit(aborted === 'SIGINT' ? 130 : 143);
    return true;
  }
  if (op === 'qmrestore') {
    process.stdout.write((reply.result as RestoreHandoffResult).stdout);
    return true;
  }
  const r = reply.result as HandoffResult;
  // As the command prints its result: nothing for text (the log said it all), else JSON.
  const data = { upid: r.upid, status: r.status, snapshots: r.snapshots, log: r.log };
  if (reply.format === 'json') process.stdout.write(`${JSON.stringify(data)}\n`);
  else if (reply.format === 'json-pretty') process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  if (aborted) process.exit(143);
  if (r.failed) failWith('E_JOB_ERRORS', vzdumpFailureMessage(r));
  return true;
}

/** The error line and exit code of report-error.ts (GUESTVAULT_OUTPUT_JSON never gets here). */
function failWith(code: string, message: string): void {
  if (code === 'E_INTERNAL') {
    // Not one of our errors (the daemon sends its stack): as report-error.ts says it.
    process.stderr.write(`internal error: ${message}\n`);
    process.exitCode = 70;
    return;
  }
  process.stderr.write(`error: ${message} [${code}]\n`);
  process.exitCode = code === 'E_USAGE' ? 2 : 1;
}
