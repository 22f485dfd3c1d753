/** Backup jobs: list with next and last run, create, change, delete, run now; and the schedule preview. */
import type { FastifyInstance } from 'fastify';
import { nextEvents, parseCalendarEvent } from '../../calendar/index.js';
import { createJob, deleteJob, findJob, JOB_KEYS, jobWithRuns, loadJobs, loadJobsStrict, runJob, updateJob } from '../../jobs/index.js';
import { processAuthId } from '../../process-user.js';
import { authid, ID_SCHEMA, type ApiContext } from '../api-context.js';
import { HttpError } from '../http-error.js';

const BOOL_KEYS = new Set(['enabled', 'repeat-missed', 'all', 'protected']);
const JOB_PROPERTIES = Object.fromEntries(JOB_KEYS.map((k) => [k, BOOL_KEYS.has(k) ? { type: 'boolean' } : { type: 'string', maxLength: 1024 }]));
const JOB_ID = { type: 'object', properties: { id: ID_SCHEMA } } as const;

type JobBody = Record<string, string | boolean | undefined>;

/** The API takes booleans as JSON booleans; jobs.cfg (and makeJob) as 0/1. */
function props(body: JobBody): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) {
    if (k === 'id' || k === 'delete' || v === undefined) continue;
    out[k] = typeof v === 'boolean' ? (v ? '1' : '0') : v;
  }
  return out;
}

function newJobId(): string {
  const taken = new Set(loadJobs().jobs.map((j) => j.id));
  for (let i = 1; ; i++) if (!taken.has(`backup-${i}`)) return `backup-${i}`;
}

export function jobRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/cluster/backup', async (req) => {
    req.access.need('/', 'Sys.Audit');
    const now = Math.floor(Date.now() / 1000);
    const { jobs, errors } = loadJobs();
    return { data: jobs.map((j) => jobWithRuns(j, now)), ...(errors.length ? { errors: errors.map((e) => e.message) } : {}) };
  });

  app.post<{ Body: JobBody }>('/cluster/backup', {
    schema: { body: { type: 'object', additionalProperties: false, required: ['schedule'], properties: { id: ID_SCHEMA, ...JOB_PROPERTIES } } },
  }, async (req) => {
    req.access.need('/', 'Sys.Modify');
    const id = (req.body.id as string | undefined) ?? newJobId();
    return { data: jobWithRuns(createJob(id, props(req.body))) };
  });

  app.get<{ Params: { id: string } }>('/cluster/backup/:id', { schema: { params: JOB_ID } }, async (req) => {
    req.access.need('/', 'Sys.Audit');
    return { data: jobWithRuns(findJob(loadJobsStrict(), req.params.id)) };
  });

  app.put<{ Params: { id: string }; Body: JobBody }>('/cluster/backup/:id', {
    schema: { params: JOB_ID, body: { type: 'object', additionalProperties: false, properties: { ...JOB_PROPERTIES, delete: { type: 'string', maxLength: 512 } } } },
  }, async (req) => {
    req.access.need('/', 'Sys.Modify');
    const remove = String(req.body.delete ?? '').split(',').map((k) => k.trim()).filter(Boolean);
    const unknown = remove.filter((k) => !(JOB_KEYS as readonly string[]).includes(k));
    if (unknown.length) throw new HttpError(400, `cannot delete unknown job properties: ${unknown.join(', ')}`);
    return { data: jobWithRuns(updateJob(req.params.id, props(req.body), remove)) };
  });

  app.delete<{ Params: { id: string } }>('/cluster/backup/:id', { schema: { params: JOB_ID } }, async (req) => {
    req.access.need('/', 'Sys.Modify');
    deleteJob(req.params.id);
    return { data: null };
  });

  app.post<{ Params: { id: string } }>('/cluster/backup/:id/run-now', { schema: { params: JOB_ID } }, async (req) => {
    req.access.need('/', 'Sys.Modify');
    const job = findJob(loadJobsStrict(), req.params.id);
    const abort = new AbortController();
    let upid: string | undefined;
    // runJob takes the job's lock and creates its task before its first await.
    const run = runJob(job, { user: authid(req), owner: processAuthId(), signal: abort.signal, onTask: (u) => (upid = u) });
    if (!upid) {
      await run;
      throw new HttpError(500, `job '${job.id}' did not start`);
    }
    ctx.runner.adopt(upid, abort, run);
    return { data: upid };
  });

  app.get<{ Querystring: { schedule: string; iterations?: string; starttime?: string } }>('/cluster/jobs/schedule-analyze', {
    schema: {
      querystring: {
        type: 'object', additionalProperties: false, required: ['schedule'],
        properties: { schedule: { type: 'string', maxLength: 128 }, iterations: { type: 'string', pattern: '^[1-9][0-9]{0,2}$' }, starttime: { type: 'string', pattern: '^[0-9]{1,12}$' } },
      },
    },
  }, async (req) => {
    const ev = parseCalendarEvent(req.query.schedule);
    const from = req.query.starttime ? Number(req.query.starttime) : Math.floor(Date.now() / 1000);
    const times = nextEvents(ev, from, Math.min(Number(req.query.iterations ?? 10), 100));
    return { data: times.map((t) => ({ timestamp: t, utc: new Date(t * 1000).toISOString() })) };
  });
}
