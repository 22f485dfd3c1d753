import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { GuestvaultError } from '../../errors.js';
import { ADMIN_USER, certInfo, ensureAdmin, ensureCertificate } from '../../server/index.js';
import { VERSION } from '../version.js';
import { guestvaultHome } from '../../home.js';
import { Scheduler, localNodeName, runJob } from '../../jobs/index.js';
import { currentAuthId } from '../context.js';
import { TaskRunner } from '../../server/task-runner.js';
import { ChunkPool, setSharedChunkPool, streamThreads } from '../../datastore/index.js';
import { cliSocketPath } from '../vzdump-client.cjs';
import { parseHandedOver } from './vzdump.js';
import { parseHandedOverRestore } from './qmrestore.js';

/** The built GUI: dist/web beside dist/cli (see web/vite.config.ts). */
const WEB_ROOT = fileURLToPath(new URL('../../web', import.meta.url));

function stamp(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

/**
 * The daemon in the foreground (for systemd): checks the jobs every minute, on the minute, as
 * Proxmox's scheduler does. SIGTERM/SIGINT stop scheduling; running jobs finish first (a
 * second signal exits at once).
 */
export function daemonCommand(): Command {
  return new Command('daemon')
    .description('run the daemon in the foreground: the HTTPS API (port 8007) and the scheduler, which starts due backup jobs every minute (logs to stdout)')
    .option('--port <port>', 'HTTPS port of the API (0: any free port)', '8007')
    .option('--listen <address>', 'address to listen on', '0.0.0.0')
    .option('--no-api', 'only the scheduler, no HTTPS API')
    .action(async (o: { port: string; listen: string; api: boolean }) => {
      if (!/^\d+$/.test(o.port) || Number(o.port) > 65535) throw new GuestvaultError('E_USAGE', `invalid --port '${o.port}'`);
      const runDir = join(guestvaultHome(), 'run');
      mkdirSync(runDir, { recursive: true });
      const pidFile = join(runDir, 'guestvault-daemon.pid');
      let api: FastifyInstance | undefined;
      const runner = new TaskRunner();
      // Chunk workers started once and all kept warm for every backup this daemon runs. All of
      // them: a worker started on demand is stopped again after a minute idle, so a nightly
      // incremental (hours after the last backup) started one every time, ~150 ms of CPU in a
      // backup whose own work took ~150 ms on two cores.
      const pool = new ChunkPool(streamThreads());
      setSharedChunkPool(pool);
      // `guestvault vzdump` and `qmrestore` in a shell hand their run to this daemon over a root-only socket
      // (listening before the API says it is up, so a test can rely on either).
      const { listenCliSocket } = await import('../../server/cli-socket.js');
      const socketPath = cliSocketPath();
      const cliSocket = await listenCliSocket(socketPath, runner, localNodeName(), { vzdump: parseHandedOver, qmrestore: parseHandedOverRestore }, stamp);
      if (o.api) {
        const node = localNodeName();
        const { cert, key } = ensureCertificate(node);
        const admin = await ensureAdmin();
        if (admin) stamp(`first start: log in as ${ADMIN_USER} with the password in ${admin} (change it with \`guestvault user passwd ${ADMIN_USER}\`)`);
        // Loaded only here: fastify and the routes would slow every other command's start.
        const { buildServer } = await import('../../server/app.js');
        api = await buildServer({ cert, key, node, version: VERSION, runner, webRoot: WEB_ROOT });
        const address = await api.listen({ port: Number(o.port), host: o.listen });
        const port = new URL(address).port;
        stamp(`API listening on https://${o.listen === '0.0.0.0' ? node : o.listen}:${port}/ (certificate SHA-256 fingerprint ${certInfo().fingerprint})`);
      }
      writeFileSync(pidFile, `${process.pid}\n`);
      const scheduler = new Scheduler({
        now: () => Math.floor(Date.now() / 1000),
        run: (job) => {
          // Scheduled runs are tasks like any other: listed, followed and stopped through the API.
          const abort = new AbortController();
          let upid = '';
          const run = runJob(job, { user: currentAuthId(), echo: (l) => stamp(`[${job.id}] ${l}`), signal: abort.signal, onTask: (u) => (upid = u) });
          if (upid) runner.adopt(upid, abort, run);
          return run;
        },
        log: stamp,
      });
      let stopping = false;
      let wake: (() => void) | undefined;
      const stop = (sig: NodeJS.Signals) => {
        if (stopping) {
          stamp(`${sig} again: exiting now`);
          rmSync(pidFile, { force: true });
          rmSync(socketPath, { force: true });
          process.exit(1);
        }
        stopping = true;
        stamp(`${sig}: stopping; waiting for ${scheduler.runningJobs.length} running job(s)`);
        wake?.();
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      stamp(`guestvault daemon started on node ${localNodeName()} (pid ${process.pid}, GUESTVAULT_HOME=${guestvaultHome()})`);
      while (!stopping) {
        scheduler.tick();
        // Sleep to the next minute boundary (plus a little, so the tick lands inside the minute).
        const ms = 60_000 - (Date.now() % 60_000) + 50;
        await new Promise<void>((r) => {
          const t = setTimeout(r, ms);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
      }
      // No new backups from the CLI; the running ones finish (their clients keep following them).
      cliSocket.close();
      rmSync(socketPath, { force: true });
      await scheduler.idle();
      if (runner.count) stamp(`waiting for ${runner.count} running task(s)`);
      await runner.idle();
      setSharedChunkPool(undefined);
      await pool.close();
      await api?.close();
      rmSync(pidFile, { force: true });
      stamp('guestvault daemon stopped');
    });
}
