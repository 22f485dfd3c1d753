/** Tasks: the list with filters, one task's status, its log (for tailing) and stopping it. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { findTask, isTaskError, listTasks, readTaskLog, type TaskInfo } from '../../tasks/index.js';
import { checkNode, type ApiContext } from '../api-context.js';
import { HttpError } from '../http-error.js';

const NUM = { type: 'string', pattern: '^[0-9]{1,12}$' } as const;
const FLAG = { type: 'string', enum: ['0', '1', 'true', 'false'] } as const;
const UPID = { type: 'string', pattern: '^UPID:[^/\\\\\\u0000]{1,400}$' } as const;

interface ListQuery {
  start?: string; limit?: string; typefilter?: string; vmid?: string; errors?: string; running?: string;
  since?: string; until?: string; userfilter?: string;
}

function on(v: string | undefined): boolean {
  return v === '1' || v === 'true';
}

function own(req: FastifyRequest, t: TaskInfo): boolean {
  const { authid, userid } = req.access.auth;
  return t.user === authid || t.user === userid;
}

/** A task is visible to whoever started it, and to whoever may audit the node. */
function checkTaskAccess(req: FastifyRequest, t: TaskInfo, privilege: 'Sys.Audit' | 'Sys.Modify'): void {
  if (!own(req, t)) req.access.need('/', privilege);
}

function taskJson(t: TaskInfo) {
  return {
    upid: t.upid, node: t.node, pid: t.pid, pstart: t.pstart, starttime: t.startTime, type: t.type, id: t.id, user: t.user,
    ...(t.running ? {} : { endtime: t.endtime, status: t.status }),
  };
}

export function taskRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Params: { node: string }; Querystring: ListQuery }>('/nodes/:node/tasks', {
    schema: {
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { start: NUM, limit: NUM, typefilter: { type: 'string', maxLength: 64 }, vmid: { type: 'string', pattern: '^[0-9]{1,9}$' }, errors: FLAG, running: FLAG, since: NUM, until: NUM, userfilter: { type: 'string', maxLength: 128 } },
      },
    },
  }, async (req) => {
    checkNode(ctx, req.params.node);
    const q = req.query;
    const all = req.access.can('/', 'Sys.Audit');
    const since = q.since === undefined ? undefined : Number(q.since);
    const until = q.until === undefined ? undefined : Number(q.until);
    const tasks = listTasks().filter((t) => (all || own(req, t))
      && (!q.typefilter || t.type === q.typefilter)
      && (!q.vmid || t.id === q.vmid)
      && (!q.userfilter || t.user.includes(q.userfilter))
      && (!on(q.errors) || (!t.running && isTaskError(t.status)))
      && (!on(q.running) || t.running)
      && (since === undefined || t.startTime >= since)
      && (until === undefined || t.startTime <= until));
    const start = Number(q.start ?? 0);
    const limit = Math.min(Number(q.limit ?? 50), 100_000);
    return { data: tasks.slice(start, start + limit).map(taskJson), total: tasks.length };
  });

  app.get<{ Params: { node: string; upid: string } }>('/nodes/:node/tasks/:upid/status', { schema: { params: { type: 'object', properties: { node: { type: 'string' }, upid: UPID } } } }, async (req) => {
    checkNode(ctx, req.params.node);
    const t = findTask(req.params.upid);
    checkTaskAccess(req, t, 'Sys.Audit');
    return { data: { ...taskJson(t), status: t.running ? 'running' : 'stopped', ...(t.running ? {} : { exitstatus: t.status }) } };
  });

  app.get<{ Params: { node: string; upid: string }; Querystring: { start?: string; limit?: string } }>('/nodes/:node/tasks/:upid/log', {
    schema: {
      params: { type: 'object', properties: { node: { type: 'string' }, upid: UPID } },
      querystring: { type: 'object', additionalProperties: false, properties: { start: NUM, limit: NUM } },
    },
  }, async (req) => {
    checkNode(ctx, req.params.node);
    const t = findTask(req.params.upid);
    checkTaskAccess(req, t, 'Sys.Audit');
    const start = Number(req.query.start ?? 0);
    const { lines, total } = readTaskLog(t.upid, start, Math.min(Number(req.query.limit ?? 500), 50_000));
    return { data: lines.map((text, i) => ({ n: start + i + 1, t: text })), total };
  });

  app.delete<{ Params: { node: string; upid: string } }>('/nodes/:node/tasks/:upid', { schema: { params: { type: 'object', properties: { node: { type: 'string' }, upid: UPID } } } }, async (req) => {
    checkNode(ctx, req.params.node);
    const t = findTask(req.params.upid);
    checkTaskAccess(req, t, 'Sys.Modify');
    if (!t.running || !ctx.runner.stop(t.upid)) throw new HttpError(409, `task ${t.upid} is not running`);
    return { data: null };
  });
}
