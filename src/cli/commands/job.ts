import { Command } from 'commander';
import {
  createJob, deleteJob, findJob, JOB_KEYS, jobToProps, jobWithRuns, loadJobs, loadJobsStrict, runJob, updateJob,
} from '../../jobs/index.js';
import { currentAuthId } from '../context.js';
import { printResult, printTable, withOutput, type OutputFormat } from '../output.js';

function camel(key: string): string {
  return key.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

function addJobOptions(cmd: Command): Command {
  for (const key of JOB_KEYS) cmd.option(`--${key} <value>`, `job property ${key} (as in jobs.cfg)`);
  return cmd;
}

function propsFrom(o: Record<string, unknown>): Record<string, string> {
  const props: Record<string, string> = {};
  for (const key of JOB_KEYS) {
    const v = o[camel(key)];
    if (typeof v === 'string') props[key] = v;
  }
  return props;
}

const when = (t: number | null | undefined) => (t ? new Date(t * 1000).toLocaleString('sv-SE') : '-');

export function jobCommand(): Command {
  const cmd = new Command('job').description('scheduled backup jobs (jobs.cfg)');
  withOutput(cmd.command('list').description('list the jobs with their next run (from now) and their last run and result'))
    .action((o: { outputFormat: OutputFormat }) => {
      const now = Math.floor(Date.now() / 1000);
      const { jobs, errors } = loadJobs();
      for (const e of errors) process.stderr.write(`warning: ${e.message}\n`);
      const rows = jobs.map((j) => jobWithRuns(j, now));
      printResult(o.outputFormat, rows, () => printTable(['id', 'enabled', 'schedule', 'next run', 'last run', 'status'],
        rows.map((r) => [r.id, r.enabled ? 'yes' : 'no', r.schedule, when(r['next-run']), when(r['last-run']), r.running ? 'running' : (r['last-status'] ?? '-')])));
    });
  withOutput(cmd.command('show').description('show one job').argument('<id>', 'job id'))
    .action((id: string, o: { outputFormat: OutputFormat }) => {
      const job = findJob(loadJobsStrict(), id);
      const data = jobWithRuns(job, Math.floor(Date.now() / 1000));
      printResult(o.outputFormat, data, () => {
        process.stdout.write(`vzdump: ${job.id}\n`);
        for (const [k, v] of Object.entries(jobToProps(job))) process.stdout.write(`\t${k} ${v}\n`);
        process.stdout.write(`next run: ${when(data['next-run'])}\nlast run: ${when(data['last-run'])} ${data['last-status'] ?? ''}\n`);
      });
    });
  withOutput(addJobOptions(cmd.command('create').description('create a job; --schedule is required (a calendar event, e.g. "mon..fri 23:00")').argument('<id>', 'job id')))
    .action((id: string, o: Record<string, unknown> & { outputFormat: OutputFormat }) => {
      const job = createJob(id, propsFrom(o));
      printResult(o.outputFormat, job, () => process.stdout.write(`created job '${id}'\n`));
    });
  withOutput(addJobOptions(cmd.command('update').description('change a job (a changed schedule counts as a fresh start for missed-run handling)')
    .argument('<id>', 'job id')
    .option('--delete <keys>', 'comma-separated keys to remove')))
    .action((id: string, o: Record<string, unknown> & { delete?: string; outputFormat: OutputFormat }) => {
      const job = updateJob(id, propsFrom(o), (o.delete ?? '').split(',').filter(Boolean));
      printResult(o.outputFormat, job, () => process.stdout.write(`updated job '${id}'\n`));
    });
  withOutput(cmd.command('delete').description('delete a job and its state').argument('<id>', 'job id'))
    .action((id: string, o: { outputFormat: OutputFormat }) => {
      deleteJob(id);
      printResult(o.outputFormat, { id, deleted: true }, () => process.stdout.write(`deleted job '${id}'\n`));
    });
  withOutput(cmd.command('run-now').description('run a job now, in the foreground, as a task (its log is printed and kept)').argument('<id>', 'job id'))
    .action(async (id: string, o: { outputFormat: OutputFormat }) => {
      const job = findJob(loadJobsStrict(), id);
      const text = o.outputFormat === 'text';
      const r = await runJob(job, { user: currentAuthId(), echo: text ? (l) => process.stdout.write(`${l}\n`) : undefined });
      printResult(o.outputFormat, { id, ...r }, () => undefined);
      if (r.status !== 'OK' && !r.status.startsWith('WARNINGS')) process.exitCode = 1;
    });
  return cmd;
}

