import { Command } from 'commander';
import { VERSION } from './version.js';

interface CommandGroup {
  names: readonly string[];
  load: () => Promise<Command[]>;
}

/** Commands `names`, made by `make` from the module `load` imports. */
function group<M>(names: readonly string[], load: () => Promise<M>, make: (m: M) => Command[]): CommandGroup {
  return { names, load: async () => make(await load()) };
}

/**
 * The top-level commands, in the order of the help, each with the module that defines it. A
 * command line that names one loads only that module: loading all of them took ~0.35 s of
 * every command here (`guestvault qmrestore` ~0.45 s before it did anything, ~0.25 s with only
 * its own module). The help, `help`, and anything not a command name load all.
 */
const COMMANDS: readonly CommandGroup[] = [
  group(['init'], () => import('./commands/init.js'), (m) => [m.initCommand()]),
  group(['datastore'], () => import('./commands/datastore.js'), (m) => [m.datastoreCommand()]),
  group(['key'], () => import('./commands/key.js'), (m) => [m.keyCommand()]),
  group(['backup'], () => import('./commands/backup.js'), (m) => [m.backupCommand()]),
  group(['snapshots', 'files'], () => import('./commands/snapshots.js'), (m) => [m.snapshotsCommand(), m.filesCommand()]),
  group(['restore'], () => import('./commands/restore.js'), (m) => [m.restoreCommand()]),
  group(['verify'], () => import('./commands/verify.js'), (m) => [m.verifyCommand()]),
  group(['prune', 'prune-datastore'], () => import('./commands/prune.js'), (m) => [m.pruneCommand(), m.pruneDatastoreCommand()]),
  group(['forget', 'protect', 'notes'], () => import('./commands/snapshot-admin.js'), (m) => [m.forgetCommand(), m.protectCommand(), m.notesCommand()]),
  group(['gc'], () => import('./commands/gc.js'), (m) => [m.gcCommand()]),
  group(['retention'], () => import('./commands/retention.js'), (m) => [m.retentionCommand()]),
  group(['calendar'], () => import('./commands/calendar.js'), (m) => [m.calendarCommand()]),
  group(['job'], () => import('./commands/job.js'), (m) => [m.jobCommand()]),
  group(['daemon'], () => import('./commands/daemon.js'), (m) => [m.daemonCommand()]),
  group(['vm'], () => import('./commands/vm.js'), (m) => [m.vmCommand()]),
  group(['vzdump'], () => import('./commands/vzdump.js'), (m) => [m.vzdumpCommand()]),
  group(['qmrestore'], () => import('./commands/qmrestore.js'), (m) => [m.qmrestoreCommand()]),
  group(['vma'], () => import('./commands/vma.js'), (m) => [m.vmaCommand()]),
  group(['storage'], () => import('./commands/storage.js'), (m) => [m.storageCommand()]),
  group(['user'], () => import('./commands/user.js'), (m) => [m.userCommand()]),
  group(['cert'], () => import('./commands/cert.js'), (m) => [m.certCommand()]),
  group(['acl'], () => import('./commands/acl.js'), (m) => [m.aclCommand()]),
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
