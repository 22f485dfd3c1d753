import { Command } from 'commander';
import { VERSION } from './version.js';

/**
 * The top-level commands, in the order of the help, each with the module that defines it. A
 * command line that names one loads only that module: loading all of them took ~0.35 s of
 * every command here (`guestvault qmrestore` ~0.45 s before it did anything, ~0.25 s with only
 * its own module). The help, `help`, and anything not a command name load all.
 */
const COMMANDS: ReadonlyArray<{ names: readonly string[]; load: () => Promise<Command[]> }> = [
  { names: ['init'], load: async () => [(await import('./commands/init.js')).initCommand()] },
  { names: ['datastore'], load: async () => [(await import('./commands/datastore.js')).datastoreCommand()] },
  { names: ['key'], load: async () => [(await import('./commands/key.js')).keyCommand()] },
  { names: ['backup'], load: async () => [(await import('./commands/backup.js')).backupCommand()] },
  {
    names: ['snapshots', 'files'],
    load: async () => {
      const m = await import('./commands/snapshots.js');
      return [m.snapshotsCommand(), m.filesCommand()];
    },
  },
  { names: ['restore'], load: async () => [(await import('./commands/restore.js')).restoreCommand()] },
  { names: ['verify'], load: async () => [(await import('./commands/verify.js')).verifyCommand()] },
  {
    names: ['prune', 'prune-datastore'],
    load: async () => {
      const m = await import('./commands/prune.js');
      return [m.pruneCommand(), m.pruneDatastoreCommand()];
    },
  },
  {
    names: ['forget', 'protect', 'notes'],
    load: async () => {
      const m = await import('./commands/snapshot-admin.js');
      return [m.forgetCommand(), m.protectCommand(), m.notesCommand()];
    },
  },
  { names: ['gc'], load: async () => [(await import('./commands/gc.js')).gcCommand()] },
  { names: ['retention'], load: async () => [(await import('./commands/retention.js')).retentionCommand()] },
  { names: ['calendar'], load: async () => [(await import('./commands/calendar.js')).calendarCommand()] },
  { names: ['job'], load: async () => [(await import('./commands/job.js')).jobCommand()] },
  { names: ['daemon'], load: async () => [(await import('./commands/daemon.js')).daemonCommand()] },
  { names: ['vm'], load: async () => [(await import('./commands/vm.js')).vmCommand()] },
  { names: ['vzdump'], load: async () => [(await import('./commands/vzdump.js')).vzdumpCommand()] },
  { names: ['qmrestore'], load: async () => [(await import('./commands/qmrestore.js')).qmrestoreCommand()] },
  { names: ['vma'], load: async () => [(await import('./commands/vma.js')).vmaCommand()] },
  { names: ['storage'], load: async () => [(await import('./commands/storage.js')).storageCommand()] },
  { names: ['user'], load: async () => [(await import('./commands/user.js')).userCommand()] },
  { names: ['cert'], load: async () => [(await import('./commands/cert.js')).certCommand()] },
  { names: ['acl'], load: async () => [(await import('./commands/acl.js')).aclCommand()] },
];

/** The program for `argv` (process.argv): with only the command it names, or with all. */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('guestvault')
    .description('Full backups of virtual machines and containers into a de-duplicating datastore (Proxmox Backup Server format)')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  const named = COMMANDS.find((c) => c.names.includes(argv[2] ?? ''));
  for (const group of named ? [named] : COMMANDS) {
    for (const cmd of await group.load()) program.addCommand(cmd);
  }
  // Subcommands inherit exit handling, so usage errors end with code 2 instead of exit().
  const inherit = (c: Command) => {
    c.exitOverride();
    c.showHelpAfterError();
    c.commands.forEach(inherit);
  };
  program.commands.forEach(inherit);
  return program;
}
