import { Command } from 'commander';
import { backupCommand } from './commands/backup.js';
import { datastoreCommand } from './commands/datastore.js';
import { initCommand } from './commands/init.js';
import { keyCommand } from './commands/key.js';
import { restoreCommand } from './commands/restore.js';
import { filesCommand, snapshotsCommand } from './commands/snapshots.js';
import { verifyCommand } from './commands/verify.js';
import { calendarCommand } from './commands/calendar.js';
import { daemonCommand } from './commands/daemon.js';
import { jobCommand } from './commands/job.js';
import { gcCommand } from './commands/gc.js';
import { pruneCommand, pruneDatastoreCommand } from './commands/prune.js';
import { retentionCommand } from './commands/retention.js';
import { vmCommand } from './commands/vm.js';
import { vzdumpCommand } from './commands/vzdump.js';
import { qmrestoreCommand } from './commands/qmrestore.js';
import { vmaCommand } from './commands/vma.js';
import { storageCommand } from './commands/storage.js';
import { userCommand } from './commands/user.js';
import { certCommand } from './commands/cert.js';
import { aclCommand } from './commands/acl.js';
import { VERSION } from './version.js';
import { forgetCommand, notesCommand, protectCommand } from './commands/snapshot-admin.js';

export function buildProgram(): Command {
  const program = new Command('guestvault')
    .description('Full backups of virtual machines and containers into a de-duplicating datastore (Proxmox Backup Server format)')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  for (const cmd of [initCommand(), datastoreCommand(), keyCommand(), backupCommand(), snapshotsCommand(), filesCommand(), restoreCommand(), verifyCommand(),
    pruneCommand(), pruneDatastoreCommand(), forgetCommand(), protectCommand(), notesCommand(), gcCommand(), retentionCommand(),
    calendarCommand(), jobCommand(), daemonCommand(), vmCommand(), vzdumpCommand(), qmrestoreCommand(), vmaCommand(), storageCommand(), userCommand(), certCommand(), aclCommand()]) {
    program.addCommand(cmd);
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
