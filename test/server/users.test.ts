/** Users of the API and GUI: scrypt hashes kept apart from user.cfg, logins that do not tell what was wrong. */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate, hashPassword, verifyPassword } from '../../src/server/auth/index.js';
import { CliEnv } from '../helpers/cli.js';

const env = new CliEnv('gv-users-');
const gv = (args: string[], input?: string) => env.run(args, input === undefined ? {} : { input });

const savedHome = process.env.GUESTVAULT_HOME;
beforeAll(() => {
  // authenticate() runs in this process: it reads the same GUESTVAULT_HOME as the CLI calls.
  process.env.GUESTVAULT_HOME = env.home;
});
afterAll(() => {
  if (savedHome === undefined) delete process.env.GUESTVAULT_HOME;
  else process.env.GUESTVAULT_HOME = savedHome;
  env.cleanup();
});

describe('password hashes', () => {
  it('scrypt with a salt: the right password matches, a wrong one or a damaged hash does not', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horsf', a)).toBe(false);
    expect(await verifyPassword('correct horse', a.replace(/.{4}$/, 'AAA='))).toBe(false);
    expect(await verifyPassword('correct horse', 'md5$whatever')).toBe(false);
  });
});

describe('guestvault user', () => {
  it('add, list, passwd, set, remove; the password never lands in user.cfg and its file is private', async () => {
    const a = gv(['user', 'add', 'alice@gv', '--comment', 'backup operator', '--email', 'alice@example.org', '--password-stdin'], 'alice-secret-1\n');
    expect(a.code, a.stderr).toBe(0);
    expect(gv(['user', 'add', 'root@pam', '--password-stdin'], 'root-secret-1').code).toBe(0);
    const cfg = readFileSync(join(env.home, 'etc', 'user.cfg'), 'utf8');
    expect(cfg).toContain('user: alice@gv\n\tenable 1\n\tcomment backup operator\n\temail alice@example.org');
    expect(cfg).not.toMatch(/scrypt|secret/);
    const shadow = join(env.home, 'etc', 'priv', 'shadow.json');
    expect(statSync(shadow).mode & 0o777).toBe(0o600);
    expect(statSync(join(env.home, 'etc', 'priv')).mode & 0o777).toBe(0o700);
    expect(readFileSync(shadow, 'utf8')).not.toContain('alice-secret-1');
    const list = env.json<Array<Record<string, unknown>>>(['user', 'list']);
    expect(list.map((u) => u.userid)).toEqual(['alice@gv', 'root@pam']);
    expect(JSON.stringify(list)).not.toMatch(/scrypt|secret/);
    expect((await authenticate('alice@gv', 'alice-secret-1')).userid).toBe('alice@gv');
    expect(gv(['user', 'passwd', 'alice@gv', '--password-stdin'], 'alice-secret-2').code).toBe(0);
    await expect(authenticate('alice@gv', 'alice-secret-1')).rejects.toThrow('authentication failure');
    expect((await authenticate('alice@gv', 'alice-secret-2')).userid).toBe('alice@gv');
    expect(gv(['user', 'set', 'alice@gv', '--enable', '0']).code).toBe(0);
    await expect(authenticate('alice@gv', 'alice-secret-2')).rejects.toThrow('authentication failure');
    expect(gv(['user', 'set', 'alice@gv', '--enable', '1', '--expire', '1000']).code).toBe(0);
    await expect(authenticate('alice@gv', 'alice-secret-2')).rejects.toThrow('authentication failure');
    // Unknown user and wrong password fail alike.
    await expect(authenticate('nobody@gv', 'alice-secret-2')).rejects.toThrow('authentication failure');
    expect(gv(['user', 'remove', 'alice@gv']).code).toBe(0);
    expect(readFileSync(shadow, 'utf8')).not.toContain('alice@gv');
    await expect(authenticate('alice@gv', 'alice-secret-2')).rejects.toThrow('authentication failure');
  });

  it('bad input: clear errors, nothing changed', () => {
    const before = readFileSync(join(env.home, 'etc', 'user.cfg'), 'utf8');
    const cases: Array<[string[], string | undefined, number, RegExp]> = [
      [['user', 'add', 'bob', '--password-stdin'], 'long-enough-1', 2, /invalid user id 'bob': expected name@realm/],
      [['user', 'add', 'bob@ldap', '--password-stdin'], 'long-enough-1', 2, /unknown realm 'ldap'/],
      [['user', 'add', 'bob@pam', '--password-stdin'], 'long-enough-1', 2, /realm pam holds only root@pam/],
      [['user', 'add', 'bob@gv', '--password-stdin'], 'short', 2, /too short: at least 8 characters/],
      [['user', 'add', 'root@pam', '--password-stdin'], 'long-enough-1', 1, /user 'root@pam' already exists/],
      [['user', 'add', 'bob@gv', '--email', 'nope', '--password-stdin'], 'long-enough-1', 2, /invalid --email 'nope'/],
      [['user', 'passwd', 'carol@gv', '--password-stdin'], 'long-enough-1', 1, /unknown user 'carol@gv'/],
      [['user', 'passwd', 'root@pam'], undefined, 2, /no password: give it on standard input with --password-stdin/],
      [['user', 'remove', 'root@pam'], undefined, 2, /root@pam cannot be removed/],
      [['user', 'set', 'root@pam', '--expire', 'soon'], undefined, 2, /invalid --expire 'soon'/],
    ];
    for (const [args, input, code, message] of cases) {
      const r = gv(args, input ?? '');
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    expect(readFileSync(join(env.home, 'etc', 'user.cfg'), 'utf8')).toBe(before);
  });
});

describe('API tokens', () => {
  it('a secret shown once, only its hash kept; checked alike for every failure; removed with its user', async () => {
    expect(gv(['user', 'add', 'dave@gv', '--password-stdin'], 'dave-secret-1').code).toBe(0);
    const t = env.json<{ 'full-tokenid': string; value: string; privsep: boolean }>(['user', 'token', 'add', 'dave@gv', 'ci', '--comment', 'pipeline']);
    expect(t['full-tokenid']).toBe('dave@gv!ci');
    expect(t.value).toMatch(/^[0-9a-f-]{36}$/);
    expect(t.privsep).toBe(true);
    for (const f of ['token.cfg', join('priv', 'token-shadow.json')]) expect(readFileSync(join(env.home, 'etc', f), 'utf8')).not.toContain(t.value);
    expect(statSync(join(env.home, 'etc', 'priv', 'token-shadow.json')).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(env.json(['user', 'token', 'list', 'dave@gv']))).not.toContain(t.value);
    const { authenticateToken } = await import('../../src/server/auth/index.js');
    expect(authenticateToken('dave@gv!ci', t.value).tokenid).toBe('dave@gv!ci');
    expect(() => authenticateToken('dave@gv!ci', 'wrong')).toThrow('authentication failure');
    expect(() => authenticateToken('dave@gv!other', t.value)).toThrow('authentication failure');
    expect(gv(['user', 'set', 'dave@gv', '--enable', '0']).code).toBe(0);
    expect(() => authenticateToken('dave@gv!ci', t.value)).toThrow('authentication failure');
    expect(gv(['user', 'set', 'dave@gv', '--enable', '1']).code).toBe(0);
    // ACL entries for a token need the token; bad names and duplicates are refused.
    expect(gv(['acl', 'set', '/vms/100', '--users', 'dave@gv!ci', '--roles', 'VMUser']).code).toBe(0);
    expect(gv(['acl', 'set', '/vms/100', '--users', 'dave@gv!nope', '--roles', 'VMUser']).stderr).toMatch(/no token 'dave@gv!nope'/);
    expect(gv(['user', 'token', 'add', 'dave@gv', 'ci']).stderr).toMatch(/token 'dave@gv!ci' already exists/);
    expect(gv(['user', 'token', 'add', 'dave@gv', '1bad']).code).toBe(2);
    expect(gv(['user', 'token', 'add', 'nobody@gv', 'x']).stderr).toMatch(/unknown user 'nobody@gv'/);
    expect(gv(['user', 'remove', 'dave@gv']).code).toBe(0);
    expect(() => authenticateToken('dave@gv!ci', t.value)).toThrow('authentication failure');
    expect(readFileSync(join(env.home, 'etc', 'token.cfg'), 'utf8')).not.toContain('dave@gv');
    expect(readFileSync(join(env.home, 'etc', 'acl.cfg'), 'utf8')).not.toContain('dave@gv');
  });
});
