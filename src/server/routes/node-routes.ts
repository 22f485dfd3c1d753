import { cpus, freemem, loadavg, totalmem, uptime } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { checkNode, type ApiContext } from '../api-context.js';

export function nodeRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/version', async () => ({ data: { version: ctx.version, release: ctx.version.split('.').slice(0, 2).join('.'), node: ctx.node } }));
  app.get('/nodes', async () => ({ data: [{ node: ctx.node, status: 'online' }] }));
  app.get<{ Params: { node: string } }>('/nodes/:node/status', async (req) => {
    checkNode(ctx, req.params.node);
    req.access.need('/', 'Sys.Audit');
    const total = totalmem();
    const free = freemem();
    return { data: { node: ctx.node, uptime: Math.floor(uptime()), loadavg: loadavg(), cpus: cpus().length, memory: { total, used: total - free, free }, version: ctx.version } };
  });
}
