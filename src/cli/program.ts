import { Command } from 'commander';

export function buildProgram(): Command {
  const program = new Command('guestvault')
    .description('Full backups of virtual machines and containers into a de-duplicating datastore')
    .version('0.1.0')
    .exitOverride();
  return program;
}
