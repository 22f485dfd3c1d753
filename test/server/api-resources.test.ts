/**
 * The API's resources against a real daemon and a real (paused, diskless-boot) QEMU: backup now,
 * tasks (list, status, log, stop, history after a restart), storage contents, restore, jobs and
 * the schedule preview, prune dry-run, datastore status — and who may do what: no login, a user
 * without privileges and a token limited to one VM get 401/403, and nothing happens.
 */
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliEnv, spawnUntil } from '../helpers/cli.js';
import { MiB, writeImage } from '../helpers/data.js';
import { TestDaemon, type ApiClient } from '../helpers/api.js';

const env = new CliEnv('gv-api-res-');
let daemon: TestDaemon;
let root: ApiClient;
let node = '';
let disk: Buffer;
const secrets: string[] = [];

interface Content { volid: string; vmid?: string; notes?: string; protected?: boolean; ctime?: number; format: string }
interface Task { upid: string; type: string; id: string; user: string; status?: string }

const enc = encodeURIComponent;

async function snapshotsOf(vmid: string): Promise<Content[]> {
  return root.data<Content[]>(`/nodes/${node}/storage/local-store/content?vmid=${vmid}`);
}

beforeAll(async () => {
  expect(env.run(['init']).code).toBe(0);
  const raw = writeImage(join(env.dir, 'disk.raw'), 16 * MiB, [['r', 3], ['z', 5]], 3);
  disk = readFileSync(raw);
  for (const vmid of ['100', '101']) {
    const r = env.run(['vm', 'create', vmid, '--name', `vm${vmid}`, '--memory', '64', '--scsi0', `local:0,import-from=${raw},format=raw`]);
    expect(r.code, r.stderr).toBe(0);
  }
  daemon = await TestDaemon.start(env);
  root = await daemon.login();
  node = (await root.data<Array<{ node: string }>>('/nodes'))[0]!.node;
  secrets.push(daemon.rootPassword());
}, 120_000);

afterAll(async () => {
  await daemon?.stop();
  env.cleanup();
});

describe('API resources', () => {
  let backup = '';

  it('backup now: a task whose log can be followed, then the backup in the storage and on the guest', async () => {
    const start = await root.call<string>('POST', `/nodes/${node}/vzdump`, { vmid: '100', storage: 'local-store', mode: 'snapshot', 'notes-template': 'from the API {{vmid}}' });
    expect(start.status, start.body.message).toBe(200);
    const upid = start.body.data;
    expect(upid).toMatch(/^UPID:[^:]+:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:vzdump:100:root@pam:$/);
    // Follow the log while it runs: line numbers grow, nothing is repeated.
    const seen: string[] = [];
    let status = 'running';
    while (status === 'running') {
      const part = await root.call<Array<{ n: number; t: string }>>('GET', `/nodes/${node}/tasks/${enc(upid)}/log?start=${seen.length}`);
      expect(part.status).toBe(200);
      for (const l of part.body.data) {
        expect(l.n).toBe(seen.length + 1);
        seen.push(l.t);
      }
      status = (await root.data<{ status: string }>(`/nodes/${node}/tasks/${enc(upid)}/status`)).status;
    }
    const rest = await root.data<Array<{ t: string }>>(`/nodes/${node}/tasks/${enc(upid)}/log?start=${seen.length}`);
    seen.push(...rest.map((l) => l.t));
    expect(seen.at(-1)).toBe('TASK OK');
    expect(seen.join('\n')).toContain('Finished Backup of VM 100');
    const st = await root.data<{ status: string; exitstatus: string }>(`/nodes/${node}/tasks/${enc(upid)}/status`);
    expect(st).toMatchObject({ status: 'stopped', exitstatus: 'OK' });

    const content = await snapshotsOf('100');
    expect(content).toHaveLength(1);
    expect(content[0]).toMatchObject({ vmid: '100', format: 'pbs-vm', notes: 'from the API 100' });
    backup = content[0]!.volid;
    expect(backup).toMatch(/^local-store:backup\/vm\/100\/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const guests = await root.data<Array<{ vmid: string; status: string; lastbackup: { ok: boolean; volid: string; upid: string } | null }>>(`/nodes/${node}/qemu`);
    expect(guests.map((g) => g.vmid)).toEqual(['100', '101']);
    expect(guests[0]!.lastbackup).toMatchObject({ ok: true, volid: backup, upid });
    expect(guests[0]!.status).toBe('stopped'); // started paused only to read its disk, and stopped again
    expect(guests[1]!.lastbackup).toBeNull();
    const backups = await root.data<Array<Content & { storage: string }>>(`/nodes/${node}/qemu/100/backups`);
    expect(backups.map((b) => [b.storage, b.volid])).toEqual([['local-store', backup]]);
  }, 180_000);

  it('tasks: list with filters, paging; errors only; unknown task 404', async () => {
    const all = await root.call<Task[]>('GET', `/nodes/${node}/tasks?typefilter=vzdump`);
    expect(all.body.total).toBe(1);
    expect(all.body.data[0]).toMatchObject({ type: 'vzdump', id: '100', user: 'root@pam', status: 'OK' });
    expect((await root.call<Task[]>('GET', `/nodes/${node}/tasks?errors=1`)).body.data).toEqual([]);
    expect((await root.call<Task[]>('GET', `/nodes/${node}/tasks?vmid=101`)).body.data).toEqual([]);
    const page = await root.call<Array<{ n: number }>>('GET', `/nodes/${node}/tasks/${enc(all.body.data[0]!.upid)}/log?start=1&limit=2`);
    expect(page.body.data.map((l) => l.n)).toEqual([2, 3]);
    expect(page.body.total).toBeGreaterThan(3);
    const bogus = 'UPID:nohost:00000001:00000001:00000001:00000001:vzdump:100:root@pam:';
    expect((await root.get(`/nodes/${node}/tasks/${enc(bogus)}/status`)).status).toBe(404);
    expect((await root.get(`/nodes/othernode/tasks`)).status).toBe(404);
  });

  it('contents: notes and protection; a protected backup cannot be removed', async () => {
    const path = `/nodes/${node}/storage/local-store/content/${enc(backup)}`;
    expect((await root.call('PUT', path, { notes: 'checked by hand', protected: true })).status).toBe(200);
    expect((await snapshotsOf('100'))[0]).toMatchObject({ notes: 'checked by hand', protected: true });
    const del = await root.call('DELETE', path);
    expect(del.status).toBe(409);
    expect(del.body.message).toMatch(/protected/);
    expect(await snapshotsOf('100')).toHaveLength(1);
    expect((await root.call('PUT', path, { protected: false })).status).toBe(200);
  });

  it('restore: a new VM whose disk is the backed-up one', async () => {
    expect(await root.data('/cluster/nextid')).toBe('102');
    const r = await root.call<string>('POST', `/nodes/${node}/qemu`, { vmid: '200', archive: backup, storage: 'local' });
    expect(r.status, r.body.message).toBe(200);
    expect(await root.waitTask(node, r.body.data)).toBe('OK');
    const conf = await root.data<Record<string, string>>(`/nodes/${node}/qemu/200/config`);
    expect(conf.name).toBe('vm100');
    const volume = /^local:(200\/vm-200-disk-\d+\.raw)/.exec(conf.scsi0!)![1]!;
    expect(readFileSync(join(env.home, 'images', volume)).equals(disk)).toBe(true);
    // Over an existing VM only with force.
    const again = await root.call('POST', `/nodes/${node}/qemu`, { vmid: '200', archive: backup, storage: 'local' });
    expect(again.status).toBe(409);
  }, 120_000);

  it('jobs: create, next runs, schedule preview (and its errors), change, run now, delete', async () => {
    const created = await root.call<{ id: string; 'next-run': number }>('POST', '/cluster/backup', { schedule: 'mon..fri 23:00', storage: 'local-store', vmid: '101', 'prune-backups': 'keep-daily=3', enabled: true });
    expect(created.status, created.body.message).toBe(200);
    const id = created.body.data.id;
    expect(id).toBe('backup-1');
    const next = new Date(created.body.data['next-run'] * 1000);
    expect([next.getHours(), next.getMinutes()]).toEqual([23, 0]);
    expect([1, 2, 3, 4, 5]).toContain(next.getDay());
    const preview = await root.data<Array<{ timestamp: number }>>(`/cluster/jobs/schedule-analyze?schedule=${enc('sat,sun 06:30')}&iterations=5`);
    expect(preview).toHaveLength(5);
    for (const p of preview) expect([0, 6]).toContain(new Date(p.timestamp * 1000).getDay());
    const bad = await root.get(`/cluster/jobs/schedule-analyze?schedule=${enc('mon..fri 25:00')}`);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/25/);
    const badJob = await root.call('POST', '/cluster/backup', { schedule: 'every tuesday', vmid: '101' });
    expect(badJob.status).toBe(400);
    expect((await root.call('PUT', `/cluster/backup/${id}`, { enabled: false, delete: 'prune-backups' })).status).toBe(200);
    const changed = await root.data<{ enabled: boolean; 'prune-backups'?: string; 'next-run': number | null }>(`/cluster/backup/${id}`);
    expect(changed).toMatchObject({ enabled: false, 'next-run': null });
    expect(changed['prune-backups']).toBeUndefined();
    const run = await root.call<string>('POST', `/cluster/backup/${id}/run-now`);
    expect(run.status, run.body.message).toBe(200);
    expect(await root.waitTask(node, run.body.data)).toBe('OK');
    expect(await snapshotsOf('101')).toHaveLength(1);
    expect((await root.call('DELETE', `/cluster/backup/${id}`)).status).toBe(200);
    expect((await root.get(`/cluster/backup/${id}`)).status).toBe(404);
  }, 180_000);

  it('prune dry-run says what would go and why; datastore status counts the snapshots', async () => {
    const dry = await root.call<Array<{ volid: string; mark: string; reason: string }>>('POST', `/nodes/${node}/storage/local-store/prune`, { 'keep-last': 1, 'dry-run': true });
    expect(dry.status, dry.body.message).toBe(200);
    expect(dry.body.data.map((d) => d.mark).sort()).toEqual(['keep', 'keep']); // one backup in each of two groups
    expect(dry.body.data[0]!.reason).toMatch(/keep-last/);
    const st = await root.data<{ snapshots: number; groups: number; total: number; avail: number }>('/admin/datastore/local/status');
    expect(st).toMatchObject({ snapshots: 2, groups: 2 });
    expect(st.total).toBeGreaterThan(st.avail);
  });

  it('stops tasks: one waiting inside the daemon, and one of a CLI process', async () => {
    // A CLI backup holds the node's vzdump lock while its hook script sleeps in backup-start.
    const hook = join(env.dir, 'slow-hook.sh');
    writeFileSync(hook, '#!/bin/sh\n[ "$1" = backup-start ] && sleep 8\nexit 0\n');
    chmodSync(hook, 0o755);
    // GUESTVAULT_NO_DAEMON: this backup runs in the CLI's own process, not handed to the daemon.
    const cli = await spawnUntil(env, ['vzdump', '101', '--script', hook], 'backup-start', { GUESTVAULT_NO_DAEMON: '1' });
    const api = await root.call<string>('POST', `/nodes/${node}/vzdump`, { vmid: '100' });
    expect(api.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    const running = await root.data<Task[]>(`/nodes/${node}/tasks?running=1`);
    expect(running.map((t) => t.upid)).toContain(api.body.data);
    expect(running).toHaveLength(2);
    expect((await root.call('DELETE', `/nodes/${node}/tasks/${enc(api.body.data)}`)).status).toBe(200);
    expect(await root.waitTask(node, api.body.data, 30_000)).toMatch(/interrupted/);
    const cliTask = running.find((t) => t.upid !== api.body.data)!;
    expect((await root.call('DELETE', `/nodes/${node}/tasks/${enc(cliTask.upid)}`)).status).toBe(200);
    expect(await cli.done).toBe(143);
    expect(await root.waitTask(node, cliTask.upid, 30_000)).not.toBe('OK');
    expect((await root.call('DELETE', `/nodes/${node}/tasks/${enc(cliTask.upid)}`)).status).toBe(409);
  }, 120_000);

  it('guestvault vzdump in a shell hands its backup to the daemon: the same log and result; Ctrl-C and a killed client abort it', async () => {
    const pidOf = (upid: string) => parseInt(upid.split(':')[2]!, 16);
    const lockOf = (vmid: string) => /^lock:/m.test(readFileSync(join(env.home, 'guests', `${vmid}.conf`), 'utf8'));
    const before = (await snapshotsOf('101')).length;
    // Text output: the task log streams to stderr as the backup runs, as it does locally.
    const text = env.run(['vzdump', '101', '--remove', '0']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stderr).toMatch(/Starting Backup of VM 101[\s\S]*Finished Backup of VM 101[\s\S]*TASK OK\s*$/);
    // It was the daemon's task (its pid in the UPID); with GUESTVAULT_NO_DAEMON=1 the CLI's own.
    const handed = env.json<{ upid: string; status: string; snapshots: string[] }>(['vzdump', '101', '--remove', '0']);
    expect(pidOf(handed.upid)).toBe(daemon.proc.pid);
    expect(handed).toMatchObject({ status: 'OK', snapshots: [expect.stringMatching(/^vm\/101\//)] });
    const local = env.json<{ upid: string; status: string }>(['vzdump', '101', '--remove', '0'], { env: { GUESTVAULT_NO_DAEMON: '1' } });
    expect(local.status).toBe('OK');
    expect(pidOf(local.upid)).not.toBe(daemon.proc.pid);
    // --quiet: nothing on stderr, also from the daemon.
    const quiet = env.run(['vzdump', '101', '--remove', '0', '--quiet']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(await snapshotsOf('101')).toHaveLength(before + 4);
    // Usage errors and help are the command's own: the daemon declines them, the CLI says them.
    const bad = env.run(['vzdump', '101', '--mode', 'bogus']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/argument 'bogus' is invalid/);
    const help = env.run(['vzdump', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--prune-backups <keep>/);
    // The daemon says the errors the CLI would: an unknown guest fails the run with exit code 1.
    const unknown = env.run(['vzdump', '999']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown guest on node/);

    const hook = join(env.dir, 'slow-hook-2.sh');
    writeFileSync(hook, '#!/bin/sh\n[ "$1" = backup-start ] && sleep 6\nexit 0\n');
    chmodSync(hook, 0o755);
    // Ctrl-C: the daemon aborts the backup, cleans up and the CLI ends with 143.
    const ctrlC = await spawnUntil(env, ['vzdump', '101', '--script', hook], 'backup-start');
    expect(lockOf('101')).toBe(true);
    ctrlC.child.kill('SIGINT');
    expect(await ctrlC.done).toBe(143);
    expect(ctrlC.out.stderr).toMatch(/received SIGINT: aborting the backup/);
    expect(lockOf('101')).toBe(false);
    // A client that is killed outright: the daemon notices and aborts the backup too.
    const killed = await spawnUntil(env, ['vzdump', '101', '--script', hook], 'backup-start');
    const upid = (await root.data<Task[]>(`/nodes/${node}/tasks?running=1`)).find((t) => t.id === '101')!.upid;
    expect(pidOf(upid)).toBe(daemon.proc.pid);
    killed.child.kill('SIGKILL');
    expect(await root.waitTask(node, upid, 60_000)).not.toBe('OK');
    expect(lockOf('101')).toBe(false);
    expect(await snapshotsOf('101')).toHaveLength(before + 4);
  }, 180_000);

  it('who may do what: no login 401; a user without privileges sees nothing and changes nothing; a token limited to one VM', async () => {
    const backups101 = (await snapshotsOf('101')).length;
    const before = (await root.call<Task[]>('GET', `/nodes/${node}/tasks`)).body.total;
    expect((await daemon.anonymous().get(`/nodes/${node}/qemu`)).status).toBe(401);
    expect((await daemon.anonymous().call('POST', `/nodes/${node}/vzdump`, { vmid: '100' })).status).toBe(401);

    expect(env.run(['user', 'add', 'alice@gv', '--password-stdin'], { input: 'alice-password-1\n' }).code).toBe(0);
    secrets.push('alice-password-1');
    const alice = await daemon.login('alice@gv', 'alice-password-1');
    expect(await alice.data(`/nodes/${node}/qemu`)).toEqual([]);
    expect(await alice.data(`/nodes/${node}/storage`)).toEqual([]);
    expect(await alice.data('/access/permissions')).toEqual({});
    for (const [method, path, body] of [
      ['POST', `/nodes/${node}/vzdump`, { vmid: '100' }],
      ['POST', `/nodes/${node}/qemu/100/status/start`, undefined],
      ['GET', `/nodes/${node}/qemu/100/config`, undefined],
      ['POST', `/nodes/${node}/qemu`, { vmid: '300', archive: backup }],
      ['DELETE', `/nodes/${node}/storage/local-store/content/${enc(backup)}`, undefined],
      ['POST', '/cluster/backup', { schedule: 'daily', all: true }],
      ['POST', `/nodes/${node}/storage/local-store/gc`, undefined],
    ] as const) {
      const r = await alice.call(method, path, body);
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.message).toMatch(/permission check failed/);
    }

    // carol may back up every VM; her token only VM 100.
    expect(env.run(['user', 'add', 'carol@gv', '--password-stdin'], { input: 'carol-password-1\n' }).code).toBe(0);
    expect(env.run(['acl', 'set', '/vms', '--users', 'carol@gv', '--roles', 'VMUser']).code).toBe(0);
    expect(env.run(['acl', 'set', '/storage', '--users', 'carol@gv', '--roles', 'DatastoreUser']).code).toBe(0);
    const tok = env.json<{ 'full-tokenid': string; value: string }>(['user', 'token', 'add', 'carol@gv', 'ci']);
    secrets.push(tok.value);
    expect(env.run(['acl', 'set', '/vms/100', '--users', tok['full-tokenid'], '--roles', 'VMUser']).code).toBe(0);
    expect(env.run(['acl', 'set', '/storage/local-store', '--users', tok['full-tokenid'], '--roles', 'DatastoreUser']).code).toBe(0);
    const token = daemon.withToken(`${tok['full-tokenid']}:${tok.value}`);
    expect((await token.data<Array<{ vmid: string }>>(`/nodes/${node}/qemu`)).map((g) => g.vmid)).toEqual(['100']);
    const denied = await token.call('POST', `/nodes/${node}/vzdump`, { vmid: '101', storage: 'local-store' });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toContain('VM.Backup on /vms/101');
    expect((await token.call('POST', `/nodes/${node}/vzdump`, { vmid: '100', storage: 'local' })).status).toBe(403);
    expect((await daemon.withToken(`${tok['full-tokenid']}:wrong-secret`).get(`/nodes/${node}/qemu`)).status).toBe(401);
    // Nothing happened: no new task, no new backup.
    expect((await root.call<Task[]>('GET', `/nodes/${node}/tasks`)).body.total).toBe(before);
    expect(await snapshotsOf('101')).toHaveLength(backups101);
    // What the token may do, it can: a task of its own, which carol's token sees and root sees too.
    const ok = await token.call<string>('POST', `/nodes/${node}/vzdump`, { vmid: '100', storage: 'local-store' });
    expect(ok.status, ok.body.message).toBe(200);
    expect(await token.waitTask(node, ok.body.data)).toBe('OK');
    expect((await alice.get(`/nodes/${node}/tasks/${enc(ok.body.data)}/log`)).status).toBe(403);
  }, 180_000);

  it('bad input: path traversal in ids and volids, NUL, absolute paths, unknown fields, wrong types', async () => {
    const cases: Array<[string, string, unknown]> = [
      ['DELETE', `/nodes/${node}/storage/local/content/${enc('local:backup/../../etc/passwd')}`, undefined],
      ['DELETE', `/nodes/${node}/storage/local-store/content/${enc('local-store:backup/vm/100/../../../x')}`, undefined],
      ['PUT', `/nodes/${node}/storage/local/content/${enc('local:backup/vzdump-qemu-100-2026_01_01-00_00_00.vma\0.zst')}`, { notes: 'x' }],
      ['GET', `/nodes/${node}/storage/${enc('../etc')}/content`, undefined],
      ['GET', `/nodes/${node}/storage/local/download?volume=${enc('/etc/passwd')}`, undefined],
      ['POST', `/nodes/${node}/qemu`, { vmid: '300', archive: '/etc/passwd' }],
      ['POST', `/nodes/${node}/qemu`, { vmid: '300', archive: 'local:backup/../../../etc/passwd' }],
      ['POST', `/nodes/${node}/qemu`, { vmid: '../300', archive: backup }],
      ['POST', `/nodes/${node}/vzdump`, { vmid: '100', storage: 'local-store', rm: '-rf' }],
      ['POST', `/nodes/${node}/vzdump`, { vmid: 100 }],
      ['GET', `/admin/datastore/local/notes?backup-type=vm&backup-id=${enc('../100')}&backup-time=1`, undefined],
      ['POST', '/cluster/backup', { id: '../evil', schedule: 'daily', all: true }],
    ];
    for (const [method, path, body] of cases) {
      const r = await root.call(method, path, body);
      expect(r.status, `${method} ${path} ${JSON.stringify(body)}: ${r.body.message}`).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.body.data).toBeNull();
    }
    expect(existsSync(join(env.home, 'guests', '300.conf'))).toBe(false);
  });

  it('tasks are history after a daemon restart; secrets appear in no log', async () => {
    const before = await root.call<Task[]>('GET', `/nodes/${node}/tasks?limit=1000`);
    expect(await daemon.stop()).toBe(0);
    daemon = await TestDaemon.start(env);
    root = await daemon.login();
    const after = await root.call<Task[]>('GET', `/nodes/${node}/tasks?limit=1000`);
    expect(after.body.data.map((t) => [t.upid, t.status])).toEqual(before.body.data.map((t) => [t.upid, t.status]));
    const logs = [daemon.out];
    const tasksDir = join(env.home, 'tasks');
    for (const d of readdirSync(tasksDir, { withFileTypes: true })) {
      if (d.isDirectory()) for (const f of readdirSync(join(tasksDir, d.name))) logs.push(readFileSync(join(tasksDir, d.name, f), 'utf8'));
      else logs.push(readFileSync(join(tasksDir, d.name), 'utf8'));
    }
    for (const s of secrets) for (const text of logs) expect(text.includes(s)).toBe(false);
  }, 60_000);
});
