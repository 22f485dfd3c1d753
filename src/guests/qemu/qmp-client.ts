/**
 * Client for the QEMU Machine Protocol (QMP) over a unix socket.
 *
 * Protocol (docs/interop/qmp-spec): on connect the server sends a greeting
 * `{"QMP": {"version": …, "capabilities": […]}}`; the client must leave capabilities negotiation mode
 * with `qmp_capabilities` before other commands are accepted. Commands are
 * `{"execute": name, "arguments": {…}, "id": …}`; the reply is `{"return": …, "id": …}` or
 * `{"error": {"class": …, "desc": …}, "id": …}` with the same id. Asynchronous events
 * `{"event": name, "data": {…}, "timestamp": {"seconds", "microseconds"}}` may arrive at any time.
 * Every message is one JSON object terminated by a newline.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { GuestvaultError } from '../../errors.js';
import { isRecord, JsonLineParser } from './json-lines.js';

export const QMP_DEFAULT_TIMEOUT_MS = 30_000;

export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

export interface QmpGreeting {
  version: { qemu: { major: number; minor: number; micro: number }; package: string };
  capabilities: string[];
}

export interface QmpConnectOptions {
  /** Covers connecting, the greeting and `qmp_capabilities`. Default 30 s. */
  timeoutMs?: number;
}

export interface QmpExecuteOptions {
  /** Default 30 s. On timeout the command fails with E_QMP_TIMEOUT; a late reply is ignored. */
  timeoutMs?: number;
}

type QmpListener = ((e: QmpEvent) => void) | ((err: GuestvaultError) => void);

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class QmpClient {
  readonly socketPath: string;
  /** The server's greeting (QEMU version and offered capabilities). */
  readonly greeting: QmpGreeting;
  private readonly socket: net.Socket;
  private readonly pending = new Map<string, Pending>();
  private readonly emitter = new EventEmitter();
  private nextId = 1;
  private readonly idPrefix = `gv${process.pid}-${Math.random().toString(36).slice(2, 8)}-`;
  private closedError: GuestvaultError | undefined;
  private readonly closedPromise: Promise<void>;

  private constructor(socketPath: string, socket: net.Socket, greeting: QmpGreeting, parser: JsonLineParser) {
    this.socketPath = socketPath;
    this.socket = socket;
    this.greeting = greeting;
    // Listeners on 'event' are optional; never let EventEmitter throw for a missing 'error' listener.
    this.emitter.setMaxListeners(0);
    parser.reset();
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('close', () => this.handleClosed('closed by QEMU'));
    socket.on('error', (err) => this.handleClosed(`lost (${err.message})`));
  }

  /** Connects, reads the greeting and negotiates capabilities. */
  static connect(socketPath: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? QMP_DEFAULT_TIMEOUT_MS;
    return new Promise<QmpClient>((resolve, reject) => {
      let client: QmpClient | undefined;
      let settled = false;
      const early: unknown[] = [];
      const socket = net.createConnection({ path: socketPath });
      const fail = (message: string, cause?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(new GuestvaultError('E_QMP_CONNECT', `cannot connect to QMP socket ${socketPath}: ${message}`, { cause }));
      };
      const timer = setTimeout(() => fail(`no QMP greeting/capabilities within ${timeoutMs} ms`), timeoutMs);
      const parser = new JsonLineParser({
        onValue: (value) => {
          if (client) {
            client.handleMessage(value);
            return;
          }
          if (!isRecord(value) || !isRecord(value.QMP)) {
            early.push(value);
            fail(`expected a QMP greeting, got ${JSON.stringify(value).slice(0, 200)}`);
            return;
          }
          const greeting = value.QMP as unknown as QmpGreeting;
          client = new QmpClient(socketPath, socket, greeting, parser);
          socket.off('error', onEarlyError);
          socket.off('close', onEarlyClose);
          client.execute('qmp_capabilities', undefined, { timeoutMs }).then(
            () => {
              if (settled) return;
              settled = true;
              clearTimeout(timer);
              resolve(client!);
            },
            (err: unknown) => fail(`qmp_capabilities failed: ${err instanceof Error ? err.message : String(err)}`, err),
          );
        },
        onInvalid: (line) => {
          if (!client) fail(`invalid JSON from server: ${line.slice(0, 200)}`);
        },
      });
      const onEarlyError = (err: Error): void => fail(err.message, err);
      const onEarlyClose = (): void => fail('connection closed before the QMP greeting');
      socket.on('error', onEarlyError);
      socket.on('close', onEarlyClose);
      socket.on('data', (chunk: Buffer) => parser.push(chunk));
    });
  }

  /** True once the connection is gone (closed by either side). */
  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /**
   * Runs a QMP command. Several commands may be in flight; replies are matched by id.
   * Fails with E_QMP_COMMAND (QEMU's error class and description), E_QMP_TIMEOUT or E_QMP_CLOSED.
   */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options: QmpExecuteOptions = {}): Promise<T> {
    if (this.closedError) {
      return Promise.reject(
        new GuestvaultError('E_QMP_CLOSED', `QMP command ${command} on ${this.socketPath} not sent: ${this.closedError.message}`),
      );
    }
    const timeoutMs = options.timeoutMs ?? QMP_DEFAULT_TIMEOUT_MS;
    const id = `${this.idPrefix}${this.nextId++}`;
    const msg: Record<string, unknown> = { execute: command, id };
    if (args !== undefined) msg.arguments = args;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(id)) return;
        reject(
          new GuestvaultError(
            'E_QMP_TIMEOUT',
            `QMP command ${command} on ${this.socketPath} got no reply within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(`${JSON.stringify(msg)}\n`);
    });
  }

  on(name: 'event', listener: (e: QmpEvent) => void): this;
  on(name: 'close', listener: (err: GuestvaultError) => void): this;
  on(name: 'event' | 'close', listener: QmpListener): this {
    this.emitter.on(name, listener as (...args: unknown[]) => void);
    return this;
  }

  off(name: 'event', listener: (e: QmpEvent) => void): this;
  off(name: 'close', listener: (err: GuestvaultError) => void): this;
  off(name: 'event' | 'close', listener: QmpListener): this {
    this.emitter.off(name, listener as (...args: unknown[]) => void);
    return this;
  }

  /**
   * Resolves with the next event called `name` (matching `predicate`, if given) that arrives after
   * this call. Register before triggering the action that emits it. Fails with E_QMP_TIMEOUT or
   * E_QMP_CLOSED.
   */
  waitForEvent(name: string, predicate?: (e: QmpEvent) => boolean, timeoutMs = QMP_DEFAULT_TIMEOUT_MS): Promise<QmpEvent> {
    if (this.closedError) {
      return Promise.reject(
        new GuestvaultError('E_QMP_CLOSED', `cannot wait for QMP event ${name} on ${this.socketPath}: ${this.closedError.message}`),
      );
    }
    return new Promise<QmpEvent>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.emitter.off('event', onEvent);
        this.emitter.off('close', onClose);
      };
      const onEvent = (e: QmpEvent): void => {
        if (e.event !== name) return;
        try {
          if (predicate && !predicate(e)) return;
        } catch (err) {
          cleanup();
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        cleanup();
        resolve(e);
      };
      const onClose = (err: GuestvaultError): void => {
        cleanup();
        reject(new GuestvaultError('E_QMP_CLOSED', `waiting for QMP event ${name} on ${this.socketPath}: ${err.message}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new GuestvaultError('E_QMP_TIMEOUT', `QMP event ${name} did not arrive on ${this.socketPath} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.emitter.on('event', onEvent);
      this.emitter.on('close', onClose);
    });
  }

  /** Closes the connection; pending commands fail with E_QMP_CLOSED. */
  async close(): Promise<void> {
    this.handleClosed('closed by the client');
    this.socket.destroy();
    await this.closedPromise;
  }

  private handleMessage(value: unknown): void {
    if (!isRecord(value)) return;
    if (typeof value.event === 'string') {
      const ts = isRecord(value.timestamp) ? value.timestamp : {};
      const e: QmpEvent = {
        event: value.event,
        data: isRecord(value.data) ? value.data : {},
        timestamp: { seconds: Number(ts.seconds ?? 0), microseconds: Number(ts.microseconds ?? 0) },
      };
      this.emitter.emit('event', e);
      return;
    }
    if (!('return' in value) && !('error' in value)) return;
    let id = typeof value.id === 'string' ? value.id : undefined;
    // QEMU answers input it could not parse with an error without id; attribute it only if unambiguous.
    if (id === undefined && this.pending.size === 1) id = this.pending.keys().next().value;
    if (id === undefined) return;
    const p = this.pending.get(id);
    if (!p) return; // reply to a command that already timed out
    this.pending.delete(id);
    clearTimeout(p.timer);
    if ('error' in value) {
      const error = isRecord(value.error) ? value.error : {};
      const cls = typeof error.class === 'string' ? error.class : 'GenericError';
      const desc = typeof error.desc === 'string' ? error.desc : JSON.stringify(value.error);
      p.reject(new QmpCommandError(p.command, this.socketPath, cls, desc));
    } else {
      p.resolve(value.return);
    }
  }

  private handleClosed(reason: string): void {
    if (this.closedError) return;
    this.closedError = new GuestvaultError('E_QMP_CLOSED', `QMP connection ${this.socketPath} ${reason}`);
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new GuestvaultError('E_QMP_CLOSED', `QMP command ${p.command} on ${this.socketPath} failed: connection ${reason}`));
    }
    this.emitter.emit('close', this.closedError);
  }
}

/** E_QMP_COMMAND with QEMU's error class and description available as fields. */
export class QmpCommandError extends GuestvaultError {
  readonly command: string;
  readonly errorClass: string;
  readonly desc: string;
  constructor(command: string, socketPath: string, errorClass: string, desc: string) {
    super('E_QMP_COMMAND', `QMP command ${command} on ${socketPath} failed: ${errorClass}: ${desc}`);
    this.command = command;
    this.errorClass = errorClass;
    this.desc = desc;
  }
}
