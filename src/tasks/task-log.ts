import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { guestvaultHome } from '../home.js';
import { makeUpid } from './upid.js';

export function tasksDir(): string {
  return join(guestvaultHome(), 'tasks');
}

/** Every task ever started appends its UPID here (one line each). */
export function activeTasksFile(): string {
  return join(tasksDir(), 'active');
}

/** Every task that ended appends `<UPID> <end time hex8> <status>` here, as Proxmox's task index. */
export function finishedTasksFile(): string {
  return join(tasksDir(), 'index');
}

export function taskLogPath(upid: string): string {
  // One directory per last hex digit of the start time spreads files as Proxmox does.
  const start = upid.split(':')[5] ?? '0';
  return join(tasksDir(), start.slice(-1), upid.replace(/[/\\]/g, '_'));
}

/** `YYYY-MM-DD HH:MM:SS` (UTC), the stamp of every task log line. */
export function logTimestamp(d = new Date()): string {
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
}

/**
 * A task: a UPID, a log file with timestamped lines, and a final line `TASK OK`,
 * `TASK WARNINGS: N` or `TASK ERROR: message`, as Proxmox writes them.
 */
export class TaskLog {
  readonly upid: string;
  readonly path: string;
  private warnings = 0;
  private finished: string | undefined;

  constructor(type: string, id: string, user: string, private readonly echo?: (line: string) => void) {
    this.upid = makeUpid(type, id, user);
    this.path = taskLogPath(this.upid);
    mkdirSync(join(this.path, '..'), { recursive: true });
    appendFileSync(this.path, '');
    appendFileSync(activeTasksFile(), `${this.upid}\n`);
  }

  log(message: string): void {
    for (const line of message.split('\n')) {
      const stamped = `${logTimestamp()} ${line}`;
      appendFileSync(this.path, `${stamped}\n`);
      this.echo?.(stamped);
    }
  }

  warn(message: string): void {
    this.warnings++;
    this.log(`WARN: ${message}`);
  }

  get warningCount(): number {
    return this.warnings;
  }

  /** Write the final line; returns the status (`OK`, `WARNINGS: N` or the error text). */
  finish(error?: unknown): string {
    if (this.finished !== undefined) return this.finished;
    let status: string;
    if (error !== undefined) status = error instanceof Error ? error.message : String(error);
    else status = this.warnings > 0 ? `WARNINGS: ${this.warnings}` : 'OK';
    const last = `TASK ${error !== undefined ? `ERROR: ${status}` : status}`;
    appendFileSync(this.path, `${last}\n`);
    this.echo?.(last);
    const end = Math.floor(Date.now() / 1000).toString(16).toUpperCase().padStart(8, '0');
    // One line per task: a multi-line error keeps its first line in the index (the log has all).
    appendFileSync(finishedTasksFile(), `${this.upid} ${end} ${status.split('\n')[0]}\n`);
    this.finished = status;
    return status;
  }
}
