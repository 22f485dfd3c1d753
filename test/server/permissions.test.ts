/** Privileges from roles on paths, as Proxmox computes them: inheritance, overrides, NoAccess, tokens never above their user. */
import { describe, expect, it } from 'vitest';
import { checkAclPath, formatAclLines, hasPrivilege, parseAclLines, privilegesAt, type AclEntry } from '../../src/server/auth/permissions.js';
import { CliEnv } from '../helpers/cli.js';

const e = (path: string, ugid: string, role: string, propagate = true): AclEntry => ({ path, ugid, role, propagate });

describe('permissions', () => {
  it('root@pam may do everything; a user without entries nothing', () => {
    expect(hasPrivilege([], 'root@pam', '/vms/100', 'VM.Backup')).toBe(true);
    expect(hasPrivilege([], 'root@pam!ci', '/vms/100', 'VM.Backup')).toBe(false);
    expect(privilegesAt([], 'alice@gv', '/').size).toBe(0);
  });

  it('roles propagate down; a deeper entry overrides; NoAccess takes everything; propagate=0 stays on its path', () => {
    const acl = [e('/', 'alice@gv', 'BackupOperator'), e('/vms/100', 'alice@gv', 'NoAccess'), e('/vms/200', 'alice@gv', 'VMAdmin'), e('/storage', 'bob@gv', 'DatastoreUser', false)];
    expect(hasPrivilege(acl, 'alice@gv', '/vms/101', 'VM.Backup')).toBe(true);
    expect(hasPrivilege(acl, 'alice@gv', '/storage/nas', 'Datastore.AllocateSpace')).toBe(true);
    expect(hasPrivilege(acl, 'alice@gv', '/vms/101', 'VM.PowerMgmt')).toBe(false);
    expect(privilegesAt(acl, 'alice@gv', '/vms/100').size).toBe(0);
    expect(hasPrivilege(acl, 'alice@gv', '/vms/200', 'VM.PowerMgmt')).toBe(true);
    // The deeper level decides alone: VMAdmin on /vms/200 has no datastore privileges.
    expect(hasPrivilege(acl, 'alice@gv', '/vms/200', 'Datastore.Audit')).toBe(false);
    expect(hasPrivilege(acl, 'bob@gv', '/storage', 'Datastore.Audit')).toBe(true);
    expect(hasPrivilege(acl, 'bob@gv', '/storage/nas', 'Datastore.Audit')).toBe(false);
  });

  it('a token has at most what its user has: privilege separation intersects, without it the user\'s', () => {
    const acl = [e('/', 'carol@gv', 'Auditor'), e('/vms/100', 'carol@gv!ci', 'VMAdmin'), e('/', 'carol@gv!ro', 'Auditor')];
    expect([...privilegesAt(acl, 'carol@gv!ci', '/vms/100')]).toEqual(['VM.Audit']);
    expect(privilegesAt(acl, 'carol@gv!ci', '/vms/101').size).toBe(0);
    expect(hasPrivilege(acl, 'carol@gv!ro', '/datastore/local', 'Datastore.Audit')).toBe(true);
    expect(hasPrivilege(acl, 'carol@gv!other', '/', 'VM.Audit')).toBe(false);
    expect(hasPrivilege(acl, 'carol@gv!other', '/', 'VM.Audit', { privsep: false })).toBe(true);
  });

  it('ACL lines in Proxmox\'s format round-trip; bad lines and paths are refused', () => {
    const text = 'acl:1:/vms/100:alice@gv,bob@gv:VMUser,Auditor:\nacl:0:/:carol@gv!ci:NoAccess:\n';
    const acl = parseAclLines(text, 'acl.cfg');
    expect(acl).toHaveLength(5);
    expect(parseAclLines(formatAclLines(acl), 'acl.cfg')).toEqual(acl);
    expect(() => parseAclLines('acl:1:/:alice@gv:Superuser:\n', 'acl.cfg')).toThrow("acl.cfg:1: unknown role 'Superuser'");
    expect(() => parseAclLines('acl:1:/\n', 'acl.cfg')).toThrow(/acl\.cfg:1: cannot parse/);
    for (const bad of ['', 'vms', '/vms/../etc', '/etc/passwd', '/vms/100/disk', '/vms/', '/vms/\0']) expect(() => checkAclPath(bad), bad).toThrow(/invalid ACL path/);
    for (const good of ['/', '/vms', '/vms/100', '/storage/nas-1', '/datastore/local']) expect(() => checkAclPath(good)).not.toThrow();
  });
});

describe('guestvault acl', () => {
  const env = new CliEnv('gv-acl-');
  const gv = (...args: string[]) => env.run(args);

  it('set, list, check, delete; bad input refused with nothing changed', () => {
    expect(env.run(['user', 'add', 'alice@gv', '--password-stdin'], { input: 'alice-secret-1' }).code).toBe(0);
    expect(gv('acl', 'set', '/vms/100', '--users', 'alice@gv', '--roles', 'VMUser').code).toBe(0);
    expect(gv('acl', 'set', '/', '--users', 'alice@gv', '--roles', 'Auditor', '--propagate', '1').code).toBe(0);
    expect(env.json<AclEntry[]>(['acl', 'list'])).toEqual([e('/vms/100', 'alice@gv', 'VMUser'), e('/', 'alice@gv', 'Auditor')]);
    expect(env.json<{ privileges: string[] }>(['acl', 'check', 'alice@gv', '/vms/100']).privileges).toEqual(['VM.Audit', 'VM.Backup', 'VM.PowerMgmt']);
    expect(env.json<{ privileges: string[] }>(['acl', 'check', 'alice@gv', '/storage/nas']).privileges).toEqual(['Datastore.Audit', 'Sys.Audit', 'VM.Audit']);
    const before = env.json<AclEntry[]>(['acl', 'list']);
    const cases: Array<[string[], number, RegExp]> = [
      [['acl', 'set', '/vms/100', '--users', 'alice@gv', '--roles', 'Superuser'], 2, /unknown role 'Superuser'/],
      [['acl', 'set', '/vms/100', '--users', 'nobody@gv', '--roles', 'VMUser'], 1, /unknown user 'nobody@gv'/],
      [['acl', 'set', '/vms/../etc', '--users', 'alice@gv', '--roles', 'VMUser'], 2, /invalid ACL path/],
      [['acl', 'delete', '/vms/100', '--users', 'alice@gv', '--roles', 'VMAdmin'], 1, /no ACL entry gives alice@gv the role VMAdmin on \/vms\/100/],
    ];
    for (const [args, code, message] of cases) {
      const r = gv(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(code);
      expect(r.stderr).toMatch(message);
    }
    expect(env.json<AclEntry[]>(['acl', 'list'])).toEqual(before);
    expect(gv('acl', 'delete', '/vms/100', '--users', 'alice@gv', '--roles', 'VMUser').code).toBe(0);
    // Removing the user removes its entries.
    expect(gv('user', 'remove', 'alice@gv').code).toBe(0);
    expect(env.json<AclEntry[]>(['acl', 'list'])).toEqual([]);
    env.cleanup();
  });
});
