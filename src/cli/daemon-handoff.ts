/**
 * The CLI side of the daemon's local socket (src/server/cli-socket.ts): hand a vzdump request
 * to a running daemon and echo its task log. Kept free of the backup code, so that a handed-off
 * `guestvault vzdump` loads almost nothing.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { GuestvaultError } from '../errors.js';
import { guestvaultHome } from '../home.js';
import { JsonLineParser } from '../guests/qemu/json-lines.js';

/** Where the daemon listens for the CLI. */
export function cliSocketPath(): string {
  return join(guestvaultHome(), 'run', 'guestvault.sock');
}

export interface HandoffResult {
  upid: string;
  status: string;
  snapshots: string[];
  failed: number;
  log: string;
}

export interface Handoff {
  /** The run's result; undefined when no daemon took it (none runs, or it declined). */
  result: Promise<HandoffResult | undefined>;
  /** Ask the daemon to abort the run (it cleans up and then answers with the result). */
  abort(reason: string): void;
}

/** GUESTVAULT_NO_DAEMON=1 keeps every backup in the CLI's own process. */
export function daemonAvailable(): boolean {
  return process.env.GUESTVAULT_NO_DAEMON !== '1' && existsSync(cliSocketPath());
}

export function handOff(request: Record<string, unknown>, node: string, echo: (line: string) => void): Handoff {
  const socket = net.createConnection(cliSocketPath());
  let connected = false;
  const result = new Promise<HandoffResult | undefined>((resolve, reject) => {
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      f();
    };
    const parser = new JsonLineParser({
      onValue: (value) => {
        const msg = value as { log?: string; result?: HandoffResult; error?: { code: string; message: string }; declined?: string };
        if (msg.log !== undefined) echo(msg.log);
        else if (msg.result) settle(() => resolve(msg.result));
        else if (msg.error) settle(() => reject(new GuestvaultError(msg.error!.code, msg.error!.message)));
        else if (msg.declined !== undefined) settle(() => resolve(undefined));
      },
    });
    socket.on('connect', () => {
      connected = true;
      socket.write(`${JSON.stringify({ op: 'vzdump', request, node })}\n`);
    });
    // Not connected: no daemon listens (a stale socket file); the CLI runs the backup itself.
    socket.on('error', (err) => settle(() => (connected ? reject(new GuestvaultError('E_DAEMON_LOST', `lost the connection to the daemon: ${err.message}`)) : resolve(undefined))));
    socket.on('close', () => settle(() => reject(new GuestvaultError('E_DAEMON_LOST', 'the daemon closed the connection before the backup ended (see `guestvault` task logs)'))));
    socket.on('data', (chunk: Buffer) => parser.push(chunk));
  });
  return {
    result: result.finally(() => socket.destroy()),
    abort(reason) {
      if (connected && !socket.destroyed) socket.write(`${JSON.stringify({ op: 'abort', reason })}\n`);
    },
  };
}
