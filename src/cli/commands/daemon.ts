import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { guestvaultHome } from '../../home.js';
import { Scheduler, localNodeName, runJob } from '../../jobs/index.js';
import { currentAuthId } from '../context.js';

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
    .description('run the scheduler in the foreground: starts due backup jobs every minute (logs to stdout)')
    .action(async () => {
      const runDir = join(guestvaultHome(), 'run');
      mkdirSync(runDir, { recursive: true });
      const pidFile = join(runDir, 'guestvault-daemon.pid');
      writeFileSync(pidFile, `${process.pid}\n`);
      const scheduler = new Scheduler({
        now: () => Math.floor(Date.now() / 1000),
        run: (job) => runJob(job, { user: currentAuthId(), echo: (l) => stamp(`[${job.id}] ${l}`) }),
        log: stamp,
      });
      let stopping = false;
      let wake: (() => void) | undefined;
      const stop = (sig: NodeJS.Signals) => {
        if (stopping) {
          stamp(`${sig} again: exiting now`);
          rmSync(pidFile, { force: true });
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
      await scheduler.idle();
      rmSync(pidFile, { force: true });
      stamp('guestvault daemon stopped');
    });
}
