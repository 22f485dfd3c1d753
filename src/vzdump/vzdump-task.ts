/**
 * One `vzdump` invocation as a task: defaults from vzdump.conf, the option checks, the task log
 * and the run. The CLI runs it in its own process, or hands the request to the daemon, which
 * runs this very function (src/server/cli-socket.ts): both behave the same.
 */
import { GuestvaultError } from '../errors.js';
import { parseCompress } from '../storage/index.js';
import { TaskLog } from '../tasks/index.js';
import { checkTargetOptions, runVzdump } from './run-vzdump.js';
import { readVzdumpDefaults, withVzdumpDefaults, type VzdumpRequest } from './vzdump-defaults.js';

export interface VzdumpTaskResult {
  upid: string;
  /** The task's end status: OK, WARNINGS: n, or the error. */
  status: string;
  snapshots: string[];
  failed: number;
  /** The task log file. */
  log: string;
}

export interface VzdumpTaskContext {
  /** The task's user, who also owns the backup groups written. */
  user: string;
  node: string;
  /** Each task log line as it is written (the CLI's stderr). */
  echo?: (line: string) => void;
  signal?: AbortSignal;
  /** Called once the task exists (its UPID is known), before the run starts. */
  onTask?: (task: TaskLog) => void;
}

/** Errors in the options throw before a task exists; a failed run ends its task and throws. */
export async function vzdumpTask(request: VzdumpRequest, ctx: VzdumpTaskContext): Promise<VzdumpTaskResult> {
  const defaults = readVzdumpDefaults();
  const options = withVzdumpDefaults(request, defaults);
  if (options.compress !== undefined && parseCompress(options.compress) === 'none') delete options.compress;
  checkTargetOptions(options);
  const vmids = request.vmid ?? [];
  const task = new TaskLog('vzdump', vmids.length === 1 ? vmids[0]! : '', ctx.user, ctx.echo);
  ctx.onTask?.(task);
  for (const w of defaults.warnings) task.warn(w);
  try {
    const r = await runVzdump(options, task, { user: ctx.user, node: ctx.node, signal: ctx.signal });
    const status = task.finish(r.failed ? new GuestvaultError('E_JOB_ERRORS', `job errors (${r.failed} failed)`) : undefined);
    return { upid: task.upid, status, snapshots: r.snapshots, failed: r.failed, log: task.path };
  } catch (err) {
    task.finish(err);
    throw err;
  }
}
