/**
 * Reading the task history: which tasks exist (tasks/active), which ended and how (tasks/index),
 * whether an unfinished one still runs (its process, by pid and start time), and its log lines.
 */
import { readFileSync } from 'node:fs';
import { GuestvaultError } from '../errors.js';
import { activeTasksFile, finishedTasksFile, taskLogPath } from './task-log.js';
import { parseUpid, processStartTime, type ParsedUpid } from './upid.js';

export interface TaskInfo extends ParsedUpid {
  upid: string;
  /** Epoch seconds; only for ended tasks. */
  endtime?: number;
  /** `OK`, `WARNINGS: N`, the error, or `unexpected status` for a task whose process died. */
  status?: string;
  running: boolean;
}

function readLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** Whether the process that started a task still runs (the same pid with the same start time). */
export function taskProcessAlive(t: ParsedUpid): boolean {
  return processStartTime(t.pid) === t.pstart;
}

/** `OK`, `WARNINGS: N` are successes; anything else is an error text. */
export function isTaskError(status: string | undefined): boolean {
  return status !== undefined && status !== 'OK' && !status.startsWith('WARNINGS: ');
}

/** Every known task, newest first. */
export function listTasks(): TaskInfo[] {
  const ended = new Map<string, { endtime: number; status: string }>();
  for (const line of readLines(finishedTasksFile())) {
    const [upid, end] = line.split(' ', 2);
    if (!upid || !end) continue;
    ended.set(upid, { endtime: parseInt(end, 16), status: line.slice(upid.length + end.length + 2) });
  }
  const seen = new Set<string>();
  const out: TaskInfo[] = [];
  const alive = new Map<string, boolean>();
  for (const upid of readLines(activeTasksFile())) {
    if (seen.has(upid)) continue;
    seen.add(upid);
    const p = parseUpid(upid);
    if (!p) continue;
    const end = ended.get(upid);
    if (end) {
      out.push({ ...p, upid, ...end, running: false });
      continue;
    }
    const key = `${p.pid}:${p.pstart}`;
    if (!alive.has(key)) alive.set(key, taskProcessAlive(p));
    out.push(alive.get(key) ? { ...p, upid, running: true } : { ...p, upid, running: false, status: 'unexpected status' });
  }
  return out.sort((a, b) => b.startTime - a.startTime || (b.taskId ?? 0) - (a.taskId ?? 0));
}

export function findTask(upid: string): TaskInfo {
  const t = parseUpid(upid) ? listTasks().find((x) => x.upid === upid) : undefined;
  if (!t) throw new GuestvaultError('E_TASK_UNKNOWN', `no task '${upid}'`);
  return t;
}

/**
 * Lines `start` (0-based) to `start + limit` of a task's log, and how many there are. Reads the
 * whole file: task logs are small (progress lines are throttled).
 */
export function readTaskLog(upid: string, start: number, limit: number): { lines: string[]; total: number } {
  let text: string;
  try {
    text = readFileSync(taskLogPath(upid), 'utf8');
  } catch {
    throw new GuestvaultError('E_TASK_UNKNOWN', `no log for task '${upid}'`);
  }
  // A line still being written (no newline yet) is left for the next read.
  const all = text.split('\n');
  all.pop();
  return { lines: all.slice(start, start + limit), total: all.length };
}
