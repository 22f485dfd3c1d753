/**
 * Long operations started through the API run inside the daemon as tasks: the request gets the
 * UPID at once, the work goes on in the background with its own log, and a stop request aborts it
 * (the operation cleans up as it does for SIGTERM in the CLI). Tasks of other processes (a
 * `guestvault vzdump` in a shell) are stopped with SIGTERM, which they handle the same way.
 */
import { GuestvaultError } from '../errors.js';
import { findTask, TaskLog } from '../tasks/index.js';

export type TaskWork = (task: TaskLog, signal: AbortSignal) => Promise<void>;

export class TaskRunner {
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();

  /** Starts `work` as a task; returns its UPID. The task fails with the error `work` throws. */
  start(type: string, id: string, user: string, work: TaskWork): string {
    const task = new TaskLog(type, id, user);
    const abort = new AbortController();
    this.adopt(task.upid, abort, work(task, abort.signal).then(() => void task.finish(), (err) => void task.finish(err)));
    return task.upid;
  }

  /** Follows work that writes its own task (a job run), so that it can be stopped like the others. */
  adopt(upid: string, abort: AbortController, work: Promise<unknown>): void {
    const done = work.then(() => undefined, () => undefined).finally(() => this.running.delete(upid));
    this.running.set(upid, { abort, done });
  }

  /** Stops a running task; false when it had ended already. */
  stop(upid: string): boolean {
    const own = this.running.get(upid);
    if (own) {
      own.abort.abort();
      return true;
    }
    // `running` already means its process is alive (same pid and start time).
    const t = findTask(upid);
    if (!t.running) return false;
    try {
      process.kill(t.pid, 'SIGTERM');
    } catch (err) {
      throw new GuestvaultError('E_TASK_STOP', `cannot stop task ${upid} (pid ${t.pid}): ${(err as Error).message}`);
    }
    return true;
  }

  get count(): number {
    return this.running.size;
  }

  /** Resolves when no task runs. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running.values()].map((t) => t.done));
  }
}
