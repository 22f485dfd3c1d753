import { Command, Option } from 'commander';
import { GuestvaultError } from '../../errors.js';
import {
  addToken, addUser, dropUserAcl, dropUserTokens, findUser, loadTokens, loadUsers, removeToken, removeUser, setPassword, tokenId, updateUser, type User,
} from '../../server/auth/index.js';
import { printResult, printTable, withOutput, type OutputFormat } from '../output.js';
import { promptHidden, readStdinText } from '../prompt.js';

interface UserCli {
  comment?: string;
  email?: string;
  enable?: string;
  expire?: string;
  passwordStdin?: boolean;
  outputFormat: OutputFormat;
}

function fields(o: UserCli): Partial<Omit<User, 'userid'>> {
  const f: Partial<Omit<User, 'userid'>> = {};
  if (o.comment !== undefined) f.comment = o.comment;
  if (o.email !== undefined) {
    if (!/^[^\s@]+@[^\s@]+$/.test(o.email)) throw new GuestvaultError('E_USAGE', `invalid --email '${o.email}'`);
    f.email = o.email;
  }
  if (o.enable !== undefined) f.enable = o.enable === '1';
  if (o.expire !== undefined) {
    if (!/^\d+$/.test(o.expire)) throw new GuestvaultError('E_USAGE', `invalid --expire '${o.expire}': seconds since the epoch, 0 for never`);
    f.expire = Number(o.expire);
  }
  return f;
}

/** The new password: standard input with --password-stdin, else asked twice on the terminal. */
async function newPassword(o: UserCli, required: boolean): Promise<string | undefined> {
  if (o.passwordStdin) return readStdinText();
  if (!process.stdin.isTTY) {
    if (required) throw new GuestvaultError('E_USAGE', 'no password: give it on standard input with --password-stdin, or run in a terminal');
    return undefined;
  }
  const first = await promptHidden('New password: ');
  if ((await promptHidden('Retype new password: ')) !== first) throw new GuestvaultError('E_USAGE', 'the passwords do not match');
  return first;
}

function withFields(cmd: Command): Command {
  return cmd
    .option('--comment <text>', 'a comment')
    .option('--email <address>', 'e-mail address')
    .addOption(new Option('--enable <0|1>', 'whether the user may log in').choices(['0', '1']))
    .option('--expire <epoch>', 'account expiry (seconds since the epoch; 0: never)');
}

const secretFree = (u: User) => ({ userid: u.userid, enable: u.enable, expire: u.expire, comment: u.comment, email: u.email });

/** `guestvault user add|passwd|set|remove|list`: the users of the API and GUI, as `pveum user`. */
export function userCommand(): Command {
  const cmd = new Command('user').description('users of the API and the GUI (name@gv, and root@pam for the administrator)');
  withOutput(withFields(cmd.command('add')
    .description('add a user; the password is asked on the terminal, or read from standard input with --password-stdin')
    .argument('<userid>', 'name@gv (or root@pam)')
    .option('--password-stdin', 'read the password from standard input')))
    .action(async (userid: string, o: UserCli) => {
      const password = await newPassword(o, false);
      const u = await addUser({ userid, ...fields(o) }, password);
      printResult(o.outputFormat, secretFree(u), () => process.stdout.write(`added user ${userid}${password === undefined ? ' (no password yet: set one with `guestvault user passwd`)' : ''}\n`));
    });
  withOutput(cmd.command('passwd')
    .description("set a user's password")
    .argument('<userid>', 'the user')
    .option('--password-stdin', 'read the password from standard input'))
    .action(async (userid: string, o: UserCli) => {
      findUser(userid);
      await setPassword(userid, (await newPassword(o, true))!);
      printResult(o.outputFormat, { userid }, () => process.stdout.write(`password of ${userid} changed\n`));
    });
  withOutput(withFields(cmd.command('set').description('change a user').argument('<userid>', 'the user')))
    .action((userid: string, o: UserCli) => {
      const u = updateUser(userid, fields(o));
      printResult(o.outputFormat, secretFree(u), () => process.stdout.write(`updated user ${userid}\n`));
    });
  withOutput(cmd.command('remove').description('remove a user').argument('<userid>', 'the user'))
    .action((userid: string, o: UserCli) => {
      removeUser(userid);
      dropUserAcl(userid);
      dropUserTokens(userid);
      printResult(o.outputFormat, { userid }, () => process.stdout.write(`removed user ${userid}\n`));
    });
  const token = cmd.command('token').description("a user's API tokens (user@realm!name), for scripts: Authorization: GVAPIToken=<tokenid>:<secret>");
  withOutput(token.command('add')
    .description('create a token; its secret is shown once and cannot be shown again')
    .argument('<userid>', 'the user')
    .argument('<name>', 'token name')
    .addOption(new Option('--privsep <0|1>', 'privilege separation: the token has only what its own ACL entries allow (within its user\'s)').choices(['0', '1']).default('1'))
    .option('--expire <epoch>', 'expiry (seconds since the epoch; 0: never)')
    .option('--comment <text>', 'a comment'))
    .action((userid: string, name: string, o: { privsep: string; expire?: string; comment?: string; outputFormat: OutputFormat }) => {
      const f = fields({ expire: o.expire, outputFormat: o.outputFormat });
      const r = addToken(userid, name, { privsep: o.privsep === '1', ...(f.expire !== undefined ? { expire: f.expire } : {}), ...(o.comment !== undefined ? { comment: o.comment } : {}) });
      printResult(o.outputFormat, { 'full-tokenid': r.token.tokenid, value: r.secret, privsep: r.token.privsep }, () =>
        process.stdout.write(`full-tokenid: ${r.token.tokenid}\nvalue:        ${r.secret}\n(the value is shown only now; keep it somewhere safe)\n`));
    });
  withOutput(token.command('list').description("a user's tokens (never their secrets)").argument('<userid>', 'the user'))
    .action((userid: string, o: { outputFormat: OutputFormat }) => {
      findUser(userid);
      const tokens = loadTokens().filter((t) => t.tokenid.startsWith(`${userid}!`));
      printResult(o.outputFormat, tokens, () => printTable(['TOKENID', 'PRIVSEP', 'EXPIRE', 'COMMENT'], tokens.map((t) => [
        t.tokenid, t.privsep ? '1' : '0', t.expire ? new Date(t.expire * 1000).toISOString() : 'never', t.comment ?? '',
      ])));
    });
  withOutput(token.command('remove').description('remove a token').argument('<userid>', 'the user').argument('<name>', 'token name'))
    .action((userid: string, name: string, o: { outputFormat: OutputFormat }) => {
      const id = tokenId(userid, name);
      removeToken(id);
      dropUserAcl(id);
      printResult(o.outputFormat, { tokenid: id }, () => process.stdout.write(`removed token ${id}\n`));
    });
  withOutput(cmd.command('list').description('the users (never their passwords)'))
    .action((o: UserCli) => {
      const users = loadUsers().map(secretFree);
      printResult(o.outputFormat, users, () => printTable(['USERID', 'ENABLED', 'EXPIRE', 'EMAIL', 'COMMENT'], users.map((u) => [
        u.userid, u.enable ? 'yes' : 'no', u.expire ? new Date(u.expire * 1000).toISOString() : 'never', u.email ?? '', u.comment ?? '',
      ])));
    });
  return cmd;
}
