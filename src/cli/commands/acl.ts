import { Command, Option } from 'commander';
import { grant, loadAcl, privilegesAt, revoke, ROLES } from '../../server/auth/index.js';
import { printResult, printTable, withOutput, type OutputFormat } from '../output.js';

const list = (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean);

/** `guestvault acl list|set|delete`, `guestvault role list`, `guestvault user permissions`: who may do what where. */
export function aclCommand(): Command {
  const cmd = new Command('acl').description('permissions: roles given to users on paths (/, /vms/<vmid>, /storage/<id>, /datastore/<name>)');
  withOutput(cmd.command('list').description('the ACL entries'))
    .action((o: { outputFormat: OutputFormat }) => {
      const acl = loadAcl();
      printResult(o.outputFormat, acl, () => printTable(['PATH', 'USER', 'ROLE', 'PROPAGATE'], acl.map((e) => [e.path, e.ugid, e.role, e.propagate ? '1' : '0'])));
    });
  withOutput(cmd.command('set')
    .description('give roles to users on a path')
    .argument('<path>', 'e.g. /vms/100')
    .requiredOption('--users <list>', 'user ids, comma-separated')
    .requiredOption('--roles <list>', `roles, comma-separated (${Object.keys(ROLES).join(', ')})`)
    .addOption(new Option('--propagate <0|1>', 'also for the paths below').choices(['0', '1']).default('1')))
    .action((path: string, o: { users: string; roles: string; propagate: string; outputFormat: OutputFormat }) => {
      grant(path, list(o.users), list(o.roles), o.propagate === '1');
      printResult(o.outputFormat, { path, users: list(o.users), roles: list(o.roles) }, () => process.stdout.write(`${o.roles} on ${path} for ${o.users}\n`));
    });
  withOutput(cmd.command('delete')
    .description('take roles away from users on a path')
    .argument('<path>', 'e.g. /vms/100')
    .requiredOption('--users <list>', 'user ids, comma-separated')
    .requiredOption('--roles <list>', 'roles, comma-separated'))
    .action((path: string, o: { users: string; roles: string; outputFormat: OutputFormat }) => {
      revoke(path, list(o.users), list(o.roles));
      printResult(o.outputFormat, { path, users: list(o.users), roles: list(o.roles) }, () => process.stdout.write(`removed ${o.roles} on ${path} for ${o.users}\n`));
    });
  withOutput(cmd.command('check')
    .description("a user's effective privileges on a path")
    .argument('<userid>', 'user id')
    .argument('<path>', 'e.g. /vms/100'))
    .action((userid: string, path: string, o: { outputFormat: OutputFormat }) => {
      const privs = [...privilegesAt(loadAcl(), userid, path)].sort();
      printResult(o.outputFormat, { userid, path, privileges: privs }, () => process.stdout.write(`${privs.join('\n') || '(none)'}\n`));
    });
  withOutput(cmd.command('roles').description('the roles and their privileges'))
    .action((o: { outputFormat: OutputFormat }) => {
      printResult(o.outputFormat, ROLES, () => printTable(['ROLE', 'PRIVILEGES'], Object.entries(ROLES).map(([r, p]) => [r, p.join(' ')])));
    });
  return cmd;
}
