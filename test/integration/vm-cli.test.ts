/** The qm-like `vm` commands against real QEMU (TCG, no guest OS), and vzdump's guest selection. */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliEnv } from '../helpers/cli.js';

const env = new CliEnv('gv-vmcli-');
const gv = (...args: string[]) => env.run(args);
const status = (vmid: string) => env.json<{ status: string; qmpstatus?: string; pid?: number }>(['vm', 'status', vmid]);

beforeAll(() => {
  expect(gv('init').code).toBe(0);
});

afterAll(() => {
  for (const vmid of ['300', '301', '302']) gv('vm', 'stop', vmid, '--skiplock');
  env.cleanup();
});

describe('vm commands', () => {
  it('create allocates volumes and writes a Proxmox-style config', () => {
    const r = gv('vm', 'create', '300', '--name', 'db', '--memory', '256', '--cores', '2', '--scsi0', 'local:32M', '--virtio1', 'local:16M,format=raw,backup=0', '--description', 'database\nsecond line');
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(join(env.home, 'guests/300.conf'), 'utf8');
    expect(text).toBe('#database\n#second line\ncores: 2\nmemory: 256\nname: db\nscsi0: local:300/vm-300-disk-0.qcow2,size=32M\nvirtio1: local:300/vm-300-disk-1.raw,backup=0,size=16M\n');
    expect(readdirSync(join(env.home, 'images/300')).sort()).toEqual(['vm-300-disk-0.qcow2', 'vm-300-disk-1.raw']);
    const list = env.json<Array<{ vmid: string; name: string; status: string; disks: number }>>(['vm', 'list']);
    expect(list).toEqual([expect.objectContaining({ vmid: '300', name: 'db', status: 'stopped', disks: 2 })]);
  });

  it('start, suspend, resume, stop: QEMU run states through QMP; status survives (pid file + query-status)', () => {
    expect(gv('vm', 'start', '300').code).toBe(0);
    const st = status('300');
    expect(st).toMatchObject({ status: 'running', qmpstatus: 'running' });
    expect(readFileSync(`/proc/${st.pid}/cmdline`, 'utf8')).toContain('drive-scsi0');
    // QEMU keeps its freed request buffers (vm-process.ts, QEMU_GLIBC_TUNABLES); glibc may
    // rewrite the variable it parsed, so only its presence is checked.
    expect(readFileSync(`/proc/${st.pid}/environ`, 'utf8')).toMatch(/(^|\0)GLIBC_TUNABLES=glibc\.malloc\./);
    expect(gv('vm', 'suspend', '300').code).toBe(0);
    expect(status('300').qmpstatus).toBe('paused');
    expect(gv('vm', 'resume', '300').code).toBe(0);
    expect(status('300').qmpstatus).toBe('running');
    const again = gv('vm', 'start', '300');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/VM 300 is already running/);
    const destroy = gv('vm', 'destroy', '300');
    expect(destroy.code).toBe(1);
    expect(destroy.stderr).toMatch(/VM 300 is running/);
    expect(gv('vm', 'stop', '300').code).toBe(0);
    expect(status('300').status).toBe('stopped');
    expect(existsSync(join(env.home, 'run/qemu/300.qmp'))).toBe(false);
    expect(gv('vm', 'start', '300', '--paused').code).toBe(0);
    expect(status('300').qmpstatus).toBe('prelaunch');
    const shut = gv('vm', 'shutdown', '300', '--timeout', '1');
    expect(shut.code).toBe(1);
    expect(shut.stderr).toMatch(/did not shut down within 1 s \(use --force-stop/);
    expect(gv('vm', 'shutdown', '300', '--timeout', '1', '--force-stop').code).toBe(0);
    expect(status('300').status).toBe('stopped');
  });

  it('refuses bad input and changes nothing', () => {
    const before = readFileSync(join(env.home, 'guests/300.conf'), 'utf8');
    expect(gv('vm', 'create', '300', '--scsi0', 'local:1M').stderr).toMatch(/VM 300 already exists/);
    expect(gv('vm', 'create', '99').code).toBe(2);
    expect(gv('vm', 'set', '300', '--memory', 'lots').code).toBe(2);
    const unknown = gv('vm', 'create', '301', '--scsi0', 'nosuch:1');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown storage 'nosuch'/);
    const notImages = gv('vm', 'create', '301', '--scsi0', 'local-store:1');
    expect(notImages.stderr).toMatch(/storage 'local-store' \(datastore\) cannot hold disk images/);
    expect(gv('vm', 'create', '301', '--scsi0', 'local:1G,format=vmdk').code).toBe(2);
    expect(existsSync(join(env.home, 'guests/301.conf'))).toBe(false);
    expect(existsSync(join(env.home, 'images/301')) ? readdirSync(join(env.home, 'images/301')) : []).toEqual([]);
    expect(gv('vm', 'status', '999').stderr).toMatch(/VM 999 does not exist/);
    expect(readFileSync(join(env.home, 'guests/300.conf'), 'utf8')).toBe(before);
    writeFileSync(join(env.home, 'guests/302.conf'), 'name: x\nbogus-key: 1\n');
    const bad = gv('vm', 'start', '302');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/302\.conf:2: unknown key 'bogus-key'/);
    writeFileSync(join(env.home, 'guests/302.conf'), 'name: x\nmemory: 64\nvirtio0: local:302/vm-302-disk-0.qcow2\n');
    const missing = gv('vm', 'start', '302');
    expect(missing.stderr).toMatch(/disk image .*vm-302-disk-0\.qcow2 does not exist/);
    expect(status('302').status).toBe('stopped');
  });

  it('vzdump --all --exclude backs up every VM of the node but the excluded ones', () => {
    expect(gv('vm', 'create', '301', '--virtio0', 'local:8M').code).toBe(0);
    writeFileSync(join(env.home, 'guests/302.conf'), 'name: x\nmemory: 64\n'); // a VM without disks: config only
    const r = gv('vzdump', '--exclude', '300');
    expect(r.code, r.stderr).toBe(0);
    const groups = env.json<Array<{ snapshot: string }>>(['snapshots', '--store', 'local']).map((s) => s.snapshot.split('/').slice(0, 2).join('/'));
    expect(groups.sort()).toEqual(['vm/301', 'vm/302']);
    const files = env.json<Array<{ filename: string }>>(['files', env.json<Array<{ snapshot: string }>>(['snapshots', '--store', 'local', 'vm/302'])[0]!.snapshot, '--store', 'local']);
    expect(files.map((f) => f.filename)).toEqual(['qemu-server.conf.blob']);
    for (const vmid of ['301', '302']) expect(status(vmid).status).toBe('stopped');
  });

  it('destroy removes the config, the volumes the VM owns and what an interrupted restore left', () => {
    writeFileSync(join(env.home, 'images/300/vm-300-disk-2.qcow2.restore-raw'), 'partial');
    const r = gv('vm', 'destroy', '300');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/removed .*vm-300-disk-2\.qcow2\.restore-raw \(left by an interrupted restore\)/);
    expect(existsSync(join(env.home, 'images/300'))).toBe(false);
    expect(existsSync(join(env.home, 'guests/300.conf'))).toBe(false);
    expect(existsSync(join(env.home, 'images/300/vm-300-disk-0.qcow2'))).toBe(false);
    expect(gv('vm', 'destroy', '300').stderr).toMatch(/VM 300 does not exist/);
  });
});
