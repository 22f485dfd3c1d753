/**
 * The daemon's local socket for the CLI: `guestvault vzdump` and `guestvault qmrestore` hand
 * their request to a running daemon, which runs it as one of its tasks and streams the task log
 * back line by line. Why: the daemon's modules are loaded and its memory is warm, so a small
 * incremental backup does not pay a process start-up (~0.3 s of a 0.8 s backup here), nor a
 * restore the ~0.15 s of loading the CLI's modules; and every backup and restore of the node is
 * a task of the daemon that the GUI can follow and stop. Ctrl-C in the CLI aborts the task
 * (its clean-up is the same as for SIGTERM), and so does a CLI that goes away.
 *
 * Who may connect: the socket is created mode 0600 in the daemon's run directory, so only the
 * daemon's user (root) can; a connection acts as that user, as a shell of root would.
 * Protocol: JSON lines. The client sends {op:"vzdump"|"qmrestore", args, cwd, node} (its
 * command line after the command's name), later maybe {op:"abort", reason}; the daemon answers
 * {log} lines, then {result, format} or {error:{code,message}}, or {declined} before anything
 * ran (the CLI then runs the command itself). The daemon parses the command line with the
 * command's own grammar, which its caller passes in (the CLI's part), so that the client loads
 * no parser.
 */
import { chmodSync, rmSync } from 'node:fs';
import net from 'node:net';
import { GuestvaultError } from '../errors.js';
import { processAuthId } from '../process-user.js';
import { JsonLineParser } from '../guests/qemu/json-lines.js';
import type { TaskLog } from '../tasks/index.js';
import type { TaskRunner } from './task-runner.js';

export interface CliSocketMessage {
  op: string;
  args?: string[];
  cwd?: string;
  node?: string;
  reason?: string;
}

/** What a handed-over command gets to run as a task of the daemon. */
export interface HandOffContext {
  user: string;
  node: string;
  signal: AbortSignal;
  /** The task log's lines for the client (only when it shows them). */
  echo?: (line: string) => void;
  /** Called once the task exists, before it runs. */
  onTask: (task: TaskLog) => void;
}

/** A command line parsed: whether the client shows the log, its output format, and the run. */
export interface ParsedCommandLine {
  echo: boolean;
  format: string;
  /** Runs it as a task; resolves with the result the client prints. */
  run(ctx: HandOffContext): Promise<unknown>;
}

/** A command's parser; {declined} for anything the client should run itself. */
export type CommandLineParser = (args: string[], cwd: string, node: string) => ParsedCommandLine | { declined: string };

/** The commands the socket takes, by the `op` the client sends (the command's name). */
export type HandOffCommands = Readonly<Record<string, CommandLineParser>>;

export function listenCliSocket(path: string, runner: TaskRunner, node: string, commands: HandOffCommands, log: (line: string) => void): Promise<net.Server> {
  rmSync(path, { force: true });
  const server = net.createServer((socket) => serve(socket, runner, node, commands, log));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      chmodSync(path, 0o600);
      server.off('error', reject);
      resolve(server);
    });
  });
}

function serve(socket: net.Socket, runner: TaskRunner, node: string, commands: HandOffCommands, log: (line: string) => void): void {
  let started = false;
  let ended = false;
  const abort = new AbortController();
  let taskLog: ((line: string) => void) | undefined;
  const send = (msg: unknown): void => {
    if (!socket.destroyed) socket.write(`${JSON.stringify(msg)}\n`);
  };
  socket.on('error', () => undefined);
  // A CLI that goes away (killed, or its terminal closed) stops its backup, as it would locally.
  socket.on('close', () => {
    if (started && !ended && !abort.signal.aborted) {
      taskLog?.('the command line client went away: aborting and cleaning up');
      abort.abort();
    }
  });
  const parser = new JsonLineParser({
    onInvalid: () => {
      send({ error: { code: 'E_USAGE', message: 'daemon socket: not a JSON line' } });
      socket.end();
    },
    onValue: (value) => {
      const msg = (value ?? {}) as CliSocketMessage;
      if (msg.op === 'abort') {
        if (started && !abort.signal.aborted) {
          taskLog?.(msg.reason ?? 'aborted by the command line client: cleaning up');
          abort.abort();
        }
      } else if (!started && typeof msg.op === 'string' && Object.hasOwn(commands, msg.op)) {
        started = true;
        const op = msg.op;
        const parsed = parseMessage(msg, node, commands[op]!);
        if ('declined' in parsed) {
          send({ declined: parsed.declined });
          socket.end();
          return;
        }
        let done!: () => void;
        const finished = new Promise<void>((r) => (done = r));
        const owner = processAuthId();
        parsed.run({
          user: owner, node, signal: abort.signal,
          echo: parsed.echo ? (l) => send({ log: l }) : undefined,
          onTask: (task) => {
            taskLog = (l) => task.log(l);
            runner.adopt(task.upid, abort, finished);
            log(`${op} task ${task.upid} for the command line`);
          },
        }).then(
          (result) => send({ result, format: parsed.format }),
          (err: unknown) => send({ error: err instanceof GuestvaultError ? { code: err.code, message: err.message } : { code: 'E_INTERNAL', message: String((err as Error)?.stack ?? err) } }),
        ).finally(() => {
          ended = true;
          done();
          socket.end();
        });
      } else if (!started && typeof msg.op === 'string') {
        // A command this daemon does not take (a client newer than it): the client runs it itself.
        send({ declined: `this daemon does not run ${msg.op}` });
        socket.end();
      } else {
        send({ error: { code: 'E_USAGE', message: `daemon socket: unexpected message ${JSON.stringify(msg.op)}` } });
      }
    },
  });
  socket.on('data', (chunk: Buffer) => parser.push(chunk));
}

/** The parsed command line, or why the daemon will not run it (the CLI then runs it itself). */
function parseMessage(msg: CliSocketMessage, node: string, parse: CommandLineParser): ParsedCommandLine | { declined: string } {
  if (msg.node !== node) return { declined: `the daemon runs node ${node}, the command line is on node ${msg.node}` };
  if (!Array.isArray(msg.args) || !msg.args.every((a) => typeof a === 'string') || typeof msg.cwd !== 'string' || !msg.cwd.startsWith('/')) {
    return { declined: 'no command line' };
  }
  return parse(msg.args, msg.cwd, node);
}
