import { describe, expect, it } from 'vitest';
import { backupDisks, formatVmConfig, parseAgentOption, parseDisk, parseVmConfig } from '../../src/guests/index.js';
import { qemuArgs, splitArgs } from '../../src/guests/qemu/command-line.js';

const PVE = `#web server
#second line%3A with colon
agent: enabled=1,freeze-fs=0
boot: order=scsi0;net0
cores: 2
ide2: none,media=cdrom
memory: 2048
name: web
net0: virtio=BC:24:11:00:00:01,bridge=vmbr0
ostype: l26
scsi0: local:100/vm-100-disk-0.qcow2,iothread=1,size=32G
scsi1: local:100/vm-100-disk-1.raw,backup=0,size=4G
scsihw: virtio-scsi-single
smbios1: uuid=0c6f7a3a-0000-4000-8000-000000000000
vmgenid: 1b3a1c0e-0000-4000-8000-000000000000

[before-upgrade]
memory: 1024
snaptime: 1700000000
`;

describe('VM configs (qemu-server style)', () => {
  it('reads a config written by Proxmox VE, keeping unknown-but-valid keys and snapshot sections', () => {
    const conf = parseVmConfig('100', PVE, '100.conf');
    expect(conf.description).toBe('web server\nsecond line: with colon');
    expect(conf.props.memory).toBe('2048');
    expect(conf.props.net0).toMatch(/^virtio=/);
    expect(conf.trailer).toMatch(/^\[before-upgrade\]/);
    expect(parseAgentOption(conf.props.agent)).toEqual({ enabled: true, freezeFs: false });
    const { included, excluded } = backupDisks(conf);
    expect(included.map((d) => d.key)).toEqual(['scsi0']);
    expect(excluded.map((e) => [e.disk.key, e.reason])).toEqual([['scsi1', 'backup=0']]);
    const again = parseVmConfig('100', formatVmConfig(conf), '100.conf');
    expect(again).toEqual(conf);
  });

  it('rejects invalid lines with file and line', () => {
    expect(() => parseVmConfig('100', 'name: a\nmemory lots\n', 'x.conf')).toThrow(/x\.conf:2: cannot parse "memory lots"/);
    expect(() => parseVmConfig('100', 'cores: 0\n', 'x.conf')).toThrow(/x\.conf:1: cores: invalid value '0'/);
    expect(() => parseVmConfig('100', 'frobnicate: 1\n', 'x.conf')).toThrow(/unknown key 'frobnicate'/);
    expect(() => parseVmConfig('100', 'scsi0: /dev/sda\n', 'x.conf')).toThrow(/scsi0: expected '<storage>:<volume>/);
    expect(() => parseVmConfig('100', 'virtio0: local:vm-100-disk-0.raw,size=huge\n', 'x.conf')).toThrow(/size=huge/);
    expect(() => parseVmConfig('100', 'agent: enabled=maybe\n', 'x.conf')).toThrow(/agent option 'enabled' needs 0 or 1/);
    expect(() => parseVmConfig('100', 'name: a\nname: b\n', 'x.conf')).toThrow(/x\.conf:2: duplicate key 'name'/);
    expect(() => parseDisk('scsi31', 'local:x')).toThrow(/not a disk key/);
  });

  it('builds a QEMU command line with -blockdev node names, device ids = config keys, and the agent channel', () => {
    const conf = parseVmConfig('100', 'name: t\nagent: 1\nmemory: 256\nvirtio0: local:100/vm-100-disk-0.qcow2\nsata1: local:100/vm-100-disk-1.raw\nargs: -kernel "/a b/vmlinuz" -append \'console=ttyS0 quiet\'\n', 'x');
    const paths = { dir: '/r', qmp: '/r/100.qmp', qmpStatus: '/r/100.status.qmp', agent: '/r/100.qga', pid: '/r/100.pid', serialLog: '/r/100.log', nbd: '/r/100.nbd', fleeceDir: '/r/f' };
    const disks = [
      { spec: parseDisk('virtio0', 'local:100/vm-100-disk-0.qcow2'), volume: { storage: 'local', name: 'x', vmid: '100', path: '/img/0.qcow2', format: 'qcow2' as const } },
      { spec: parseDisk('sata1', 'local:100/vm-100-disk-1.raw'), volume: { storage: 'local', name: 'y', vmid: '100', path: '/img/1.raw', format: 'raw' as const } },
    ];
    const args = qemuArgs(conf, disks, paths, { paused: true });
    const joined = args.join(' ');
    expect(joined).toContain('-qmp unix:/r/100.qmp,server=on,wait=off');
    expect(joined).toContain('-qmp unix:/r/100.status.qmp,server=on,wait=off');
    expect(joined).toContain('-S');
    expect(joined).toContain('socket,path=/r/100.qga,server=on,wait=off,id=qga0');
    expect(args).toContain(JSON.stringify({ driver: 'qcow2', file: 'file-virtio0', 'node-name': 'drive-virtio0', discard: 'unmap' }));
    expect(args).toContain('virtio-blk-pci,drive=drive-virtio0,id=virtio0,bootindex=100');
    expect(args).toContain('ide-hd,bus=ahci0.1,drive=drive-sata1,id=sata1');
    expect(args.slice(-4)).toEqual(['-kernel', '/a b/vmlinuz', '-append', 'console=ttyS0 quiet']);
    expect(splitArgs('a "b c" d')).toEqual(['a', 'b c', 'd']);
  });
});
