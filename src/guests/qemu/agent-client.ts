/**
 * Client for the QEMU guest agent (qemu-ga) through the host side of its virtio-serial port: a unix
 * socket chardev on which QEMU is the server.
 *
 * qemu-ga has no greeting and does not echo ids, and the channel survives across host
 * connections: a reply to a request sent by an earlier client (or one that timed out) can still
 * arrive, and requests sent before the agent runs are silently lost. So every (re)connect — and
 * every use after a timeout — starts with a resync: send a 0xFF byte (which makes the agent's JSON
 * parser drop any partial input), then `guest-sync-delimited` with a random id. The agent answers
 * that with a 0xFF byte followed by `{"return": id}`; everything before the matching reply is
 * discarded. After that, requests are sent one at a time and each reply belongs to the request.
 */
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { GuestvaultError } from '../../errors.js';
import { isRecord, JsonLineParser } from './json-lines.js';

export const AGENT_DEFAULT_TIMEOUT_MS = 30_000;
export const AGENT_DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface AgentConnectOptions {
  /** Total time for connecting and the initial resync. Default 10 s. */
  timeoutMs?: number;
}

export interface AgentExecuteOptions {
  /** Default 30 s. On timeout: E_AGENT_TIMEOUT, and the next command resyncs first. */
  timeoutMs?: number;
}

type Waiter = (value: unknown) => void;

/** The guest-sync retry schedule: requests sent before qemu-ga starts are lost, so resend. */
const SYNC_RETRY_MS = [250, 500, 1000, 2000];

export class AgentClient {
  readonly socketPath: string;
  private readonly socket: net.Socket;
  private readonly parser: JsonLineParser;
  /** Receives the next parsed reply while a command runs; replies at other times are dropped. */
  private waiter: Waiter | undefined;
  private markerSeen = false;
  private queue: Promise<unknown> = Promise.resolve();
  private needsSync = true;
  private closedReason: string | undefined;
  private readonly closeListeners = new Set<(reason: string) => void>();
  private readonly closedPromise: Promise<void>;

  private constructor(socketPath: string, socket: net.Socket) {
    this.socketPath = socketPath;
    this.socket = socket;
    this.parser = new JsonLineParser({
      onValue: (v) => {
        const w = this.waiter;
        if (w) w(v);
      },
      onMarker: () => {
        this.markerSeen = true;
      },
    });
    socket.on('data', (chunk: Buffer) => this.parser.push(chunk));
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('close', () => this.handleClosed('the connection was closed'));
    socket.on('error', (err) => this.handleClosed(`socket error: ${err.message}`));
  }

  /** Connects and resyncs with the agent. A guest without a running agent → E_AGENT_TIMEOUT. */
  static async connect(socketPath: string, options: AgentConnectOptions = {}): Promise<AgentClient> {
    const timeoutMs = options.timeoutMs ?? AGENT_DEFAULT_CONNECT_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.createConnection({ path: socketPath });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new GuestvaultError('E_AGENT_CONNECT', `cannot connect to guest agent socket ${socketPath}: timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.off('error', onError);
        resolve(s);
      });
      const onError = (err: Error): void => {
        clearTimeout(timer);
        reject(new GuestvaultError('E_AGENT_CONNECT', `cannot connect to guest agent socket ${socketPath}: ${err.message}`, { cause: err }));
      };
      s.once('error', onError);
    });
    const client = new AgentClient(socketPath, socket);
    try {
      await client.enqueue(() => client.sync(Math.max(1, deadline - Date.now())));
    } catch (err) {
      await client.close();
      if (err instanceof GuestvaultError && err.code === 'E_AGENT_CLOSED') {
        throw new GuestvaultError('E_AGENT_CONNECT', `guest agent socket ${socketPath} was closed during the initial guest-sync-delimited`, { cause: err });
      }
      throw err;
    }
    return client;
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /**
   * Runs one agent command (commands are queued and sent one at a time). Fails with
   * E_AGENT_COMMAND (the agent's error class and description), E_AGENT_TIMEOUT or E_AGENT_CLOSED.
   */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options: AgentExecuteOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? AGENT_DEFAULT_TIMEOUT_MS;
    return this.enqueue(async () => {
      if (this.closedReason) throw this.closedError(command);
      const deadline = Date.now() + timeoutMs;
      if (this.needsSync) await this.sync(timeoutMs);
      const reply = await this.request(command, args, Math.max(1, deadline - Date.now()));
      if (!isRecord(reply)) {
        throw new GuestvaultError('E_AGENT_COMMAND', `guest agent command ${command} on ${this.socketPath}: unexpected reply ${JSON.stringify(reply)}`);
      }
      if ('error' in reply) {
        const e = isRecord(reply.error) ? reply.error : {};
        throw new AgentCommandError(
          command,
          this.socketPath,
          typeof e.class === 'string' ? e.class : 'GenericError',
          typeof e.desc === 'string' ? e.desc : JSON.stringify(reply.error),
        );
      }
      return reply.return as T;
    });
  }

  /** guest-ping: resolves when the agent answers. */
  async ping(options?: AgentExecuteOptions): Promise<void> {
    await this.execute('guest-ping', undefined, options);
  }

  /** guest-fsfreeze-freeze: freezes all freezable guest filesystems; returns how many. */
  fsfreezeFreeze(options?: AgentExecuteOptions): Promise<number> {
    return this.execute<number>('guest-fsfreeze-freeze', undefined, options);
  }

  /** guest-fsfreeze-status. */
  fsfreezeStatus(options?: AgentExecuteOptions): Promise<'thawed' | 'frozen'> {
    return this.execute<'thawed' | 'frozen'>('guest-fsfreeze-status', undefined, options);
  }

  /** guest-fsfreeze-thaw: returns the number of filesystems thawed. */
  fsfreezeThaw(options?: AgentExecuteOptions): Promise<number> {
    return this.execute<number>('guest-fsfreeze-thaw', undefined, options);
  }

  /**
   * guest-shutdown. The agent sends no reply on success, so this resolves once the request has
   * been written (or the connection closed). `mode` defaults to the agent's "powerdown".
   */
  shutdown(mode?: 'powerdown' | 'halt' | 'reboot', options: AgentExecuteOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? AGENT_DEFAULT_TIMEOUT_MS;
    return this.enqueue(async () => {
      if (this.needsSync) await this.sync(timeoutMs);
      if (this.closedReason) return;
      const msg: Record<string, unknown> = { execute: 'guest-shutdown' };
      if (mode) msg.arguments = { mode };
      // A failure reply could still arrive; make the next command resync past it.
      this.needsSync = true;
      await new Promise<void>((resolve) => {
        this.socket.write(`${JSON.stringify(msg)}\n`, () => resolve());
      });
    });
  }

  /** Closes the connection. Queued commands fail with E_AGENT_CLOSED. */
  async close(): Promise<void> {
    this.handleClosed('closed by the client');
    this.socket.destroy();
    await this.closedPromise;
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private closedError(command: string): GuestvaultError {
    return new GuestvaultError('E_AGENT_CLOSED', `guest agent command ${command} on ${this.socketPath} failed: ${this.closedReason ?? 'closed'}`);
  }

  /** Sends one request and waits for the next reply line. */
  private request(command: string, args: Record<string, unknown> | undefined, timeoutMs: number): Promise<unknown> {
    if (this.closedReason) return Promise.reject(this.closedError(command));
    const msg: Record<string, unknown> = { execute: command };
    if (args !== undefined) msg.arguments = args;
    return new Promise<unknown>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiter = undefined;
        this.closeListeners.delete(onClose);
      };
      const timer = setTimeout(() => {
        cleanup();
        this.needsSync = true; // a late reply may still come
        reject(new GuestvaultError('E_AGENT_TIMEOUT', `guest agent command ${command} on ${this.socketPath} got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      const onClose = (): void => {
        cleanup();
        reject(this.closedError(command));
      };
      this.closeListeners.add(onClose);
      this.waiter = (v) => {
        cleanup();
        resolve(v);
      };
      this.socket.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /**
   * 0xFF + guest-sync-delimited, resent on a backoff schedule until the matching delimited reply
   * arrives or `timeoutMs` passes.
   */
  private sync(timeoutMs: number): Promise<void> {
    if (this.closedReason) return Promise.reject(this.closedError('guest-sync-delimited'));
    return new Promise<void>((resolve, reject) => {
      let id = 0;
      let attempt = 0;
      let retryTimer: NodeJS.Timeout | undefined;
      const sent = new Set<number>();
      const cleanup = (): void => {
        clearTimeout(timer);
        clearTimeout(retryTimer);
        this.waiter = undefined;
        this.closeListeners.delete(onClose);
      };
      const send = (): void => {
        id = randomInt(1, 2 ** 31);
        sent.add(id);
        this.markerSeen = false;
        this.parser.reset();
        this.socket.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(`${JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } })}\n`)]));
        const delay = SYNC_RETRY_MS[Math.min(attempt++, SYNC_RETRY_MS.length - 1)];
        retryTimer = setTimeout(send, delay);
      };
      const timer = setTimeout(() => {
        cleanup();
        this.needsSync = true;
        reject(
          new GuestvaultError(
            'E_AGENT_TIMEOUT',
            `guest agent not responding on ${this.socketPath} (is qemu-guest-agent running in the guest?): no guest-sync-delimited reply within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const onClose = (): void => {
        cleanup();
        reject(this.closedError('guest-sync-delimited'));
      };
      this.closeListeners.add(onClose);
      this.waiter = (v) => {
        // Only a reply that follows the 0xFF delimiter counts; anything else is stale output.
        if (!this.markerSeen || !isRecord(v) || typeof v.return !== 'number' || !sent.has(v.return)) return;
        if (v.return !== id) {
          // The agent is alive and answering an earlier attempt: stop resending and wait for the
          // latest one (replies come in order), so no sync reply is left in flight.
          clearTimeout(retryTimer);
          this.markerSeen = false;
          return;
        }
        cleanup();
        this.needsSync = false;
        resolve();
      };
      send();
    });
  }

  private handleClosed(reason: string): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    for (const l of [...this.closeListeners]) l(reason);
    this.closeListeners.clear();
  }
}

/** E_AGENT_COMMAND with the agent's error class and description as fields. */
export class AgentCommandError extends GuestvaultError {
  readonly command: string;
  readonly errorClass: string;
  readonly desc: string;
  constructor(command: string, socketPath: string, errorClass: string, desc: string) {
    super('E_AGENT_COMMAND', `guest agent command ${command} on ${socketPath} failed: ${errorClass}: ${desc}`);
    this.command = command;
    this.errorClass = errorClass;
    this.desc = desc;
  }
}
