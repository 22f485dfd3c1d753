import { Command, Option } from 'commander';
import { GuestvaultError } from '../../errors.js';
import {
  checkNotLocked, checkProperty, requireVmState, formatDisk, formatDiskSize, checkVmid, formatVmConfig, listVmids, loadVm, parseAgentOption, parseDisk, parseSize, pauseVm,
  removeVmConfig, resumeVm, saveVm, shutdownVm, startVm, stopVm, vmDisks, vmExists, vmStatus, withVmConfigLock,
  type VmConfig,
} from '../../guests/index.js';
import { allocateVolume, freeVolume, importVolume, removeRestoreLeftovers, resolveVolume, splitVolid, volumeInfo, type VolumeFormat } from '../../storage/index.js';
import { note, printResult, printTable, withOutput, type OutputFormat } from '../output.js';

const PLAIN_KEYS = ['name', 'memory', 'cores', 'sockets', 'machine', 'agent', 'boot', 'args', 'onboot', 'bios', 'scsihw'] as const;
const DISK_KEYS = [
  ...Array.from({ length: 8 }, (_, i) => `scsi${i}`),
  ...Array.from({ length: 8 }, (_, i) => `virtio${i}`),
  ...Array.from({ length: 4 }, (_, i) => `sata${i}`),
];

function addConfigOptions(cmd: Command): Command {
  for (const k of PLAIN_KEYS) cmd.option(`--${k} <value>`, `config property ${k}`);
  cmd.option('--description <text>', 'description (shown as comment lines in the config)');
  for (const k of DISK_KEYS) {
    cmd.addOption(new Option(`--${k} <disk>`, `disk ${k}: STORAGE:SIZE (new volume, size in GiB or with K/M/G), STORAGE:VOLUME (existing), `
      + 'options ,format=qcow2|raw ,import-from=PATH ,backup=0').hideHelp(!['scsi0', 'virtio0', 'sata0'].includes(k)));
  }
  return cmd;
}

interface ConfigChanges {
  props: Record<string, string>;
  disks: Record<string, string>;
  description?: string;
}

function changesFrom(o: Record<string, unknown>): ConfigChanges {
  const props: Record<string, string> = {};
  const disks: Record<string, string> = {};
  for (const k of PLAIN_KEYS) if (typeof o[k] === 'string') props[k] = o[k];
  for (const k of DISK_KEYS) if (typeof o[k] === 'string') disks[k] = o[k];
  for (const [k, v] of Object.entries(props)) {
    const problem = checkProperty(k, v);
    if (problem) throw new GuestvaultError('E_USAGE', `--${problem}`);
  }
  return { props, disks, description: typeof o.description === 'string' ? o.description : undefined };
}

/**
 * Turn a disk option into a config value, allocating or importing a volume when asked
 * (`local:4` = a new 4 GiB volume, as qm does). Returns the new volume (to undo on failure).
 */
function materializeDisk(vmid: string, key: string, value: string): { value: string; created?: string } {
  const [target, ...optParts] = value.split(',');
  const opts = Object.fromEntries(optParts.map((p) => {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new GuestvaultError('E_USAGE', `--${key}: option '${p}' is not key=value`);
    return [p.slice(0, eq), p.slice(eq + 1)];
  }));
  const { storage, volume } = (() => {
    try {
      return splitVolid(target ?? '');
    } catch {
      throw new GuestvaultError('E_USAGE', `--${key}: expected STORAGE:SIZE or STORAGE:VOLUME, got '${value}'`);
    }
  })();
  const format = (opts.format ?? 'qcow2') as VolumeFormat;
  if (format !== 'qcow2' && format !== 'raw') throw new GuestvaultError('E_USAGE', `--${key}: format must be qcow2 or raw, not '${String(opts.format)}'`);
  const importFrom = opts['import-from'];
  delete opts.format;
  delete opts['import-from'];
  let volid: string;
  let created: string | undefined;
  if (importFrom !== undefined) {
    volid = importVolume(storage, vmid, importFrom, format);
    created = volid;
  } else if (/^\d+(\.\d+)?[KMGT]?$/.test(volume)) {
    const size = parseSize(/[KMGT]$/.test(volume) ? volume : `${volume}G`)!;
    if (size <= 0) throw new GuestvaultError('E_USAGE', `--${key}: size must be positive`);
    volid = allocateVolume(storage, vmid, size, format);
    created = volid;
  } else {
    volid = `${storage}:${volume}`;
    resolveVolume(volid);
  }
  const path = resolveVolume(volid).path;
  const spec = parseDisk(key, [volid, ...Object.entries(opts).map(([k, v]) => `${k}=${String(v)}`)].join(','));
  spec.options.size = formatDiskSize(volumeInfo(path).virtualSize);
  return { value: formatDisk(spec), created };
}

function applyChanges(conf: VmConfig, changes: ConfigChanges): string[] {
  const created: string[] = [];
  try {
    Object.assign(conf.props, changes.props);
    for (const [k, v] of Object.entries(changes.disks)) {
      const r = materializeDisk(conf.vmid, k, v);
      if (r.created) created.push(r.created);
      conf.props[k] = r.value;
    }
    if (changes.description !== undefined) conf.description = changes.description;
    return created;
  } catch (err) {
    for (const v of created) freeVolume(v);
    throw err;
  }
}

export function vmCommand(): Command {
  const vm = new Command('vm').description('manage QEMU virtual machines (qm-like): configs under GUESTVAULT_HOME/guests, disks on dir storages');

  vm.addCommand(addConfigOptions(withOutput(new Command('create')
    .description('create a VM config, allocating or importing its disks')
    .argument('<vmid>', 'VM id (100 or more)')))
    .action(async (vmid: string, o: Record<string, unknown> & { outputFormat: OutputFormat }) => {
      checkVmid(vmid);
      const changes = changesFrom(o);
      await withVmConfigLock(vmid, () => {
        if (vmExists(vmid)) throw new GuestvaultError('E_GUEST_EXISTS', `VM ${vmid} already exists`);
        const conf: VmConfig = { vmid, props: { memory: '512', cores: '1' } };
        applyChanges(conf, changes);
        saveVm(conf);
        printResult(o.outputFormat, { vmid, config: conf.props }, () => process.stdout.write(`created VM ${vmid}\n`));
      });
    }));

  vm.addCommand(addConfigOptions(withOutput(new Command('set')
    .description('change a VM config (new disks are allocated as in create)')
    .argument('<vmid>')
    .option('--delete <keys>', 'comma-separated properties to remove (disk volumes are kept)')))
    .action(async (vmid: string, o: Record<string, unknown> & { delete?: string; outputFormat: OutputFormat }) => {
      const changes = changesFrom(o);
      await withVmConfigLock(vmid, () => {
        const conf = loadVm(vmid);
        checkNotLocked(conf);
        applyChanges(conf, changes);
        for (const k of (o.delete ?? '').split(',').filter(Boolean)) delete conf.props[k];
        saveVm(conf);
        printResult(o.outputFormat, { vmid, config: conf.props }, () => process.stdout.write(`updated VM ${vmid}\n`));
      });
    }));

  vm.addCommand(withOutput(new Command('list').description('list VMs with their status'))
    .action(async (o: { outputFormat: OutputFormat }) => {
      const rows: Array<{ vmid: string; name: string; status: string; qmpstatus: string | null; pid: number | null; memory: number; disks: number; lock: string | null; error?: string }> = [];
      for (const vmid of listVmids()) {
        try {
          const conf = loadVm(vmid);
          const st = await vmStatus(vmid);
          rows.push({ vmid, name: conf.props.name ?? '', status: st.status, qmpstatus: st.qmpstatus ?? null, pid: st.pid ?? null, memory: Number(conf.props.memory ?? 512), disks: vmDisks(conf).length, lock: conf.props.lock ?? null });
        } catch (err) {
          rows.push({ vmid, name: '', status: 'error', qmpstatus: null, pid: null, memory: 0, disks: 0, lock: null, error: (err as Error).message });
        }
      }
      printResult(o.outputFormat, rows, () => printTable(['VMID', 'NAME', 'STATUS', 'MEM(MB)', 'DISKS', 'PID', 'LOCK'],
        rows.map((r) => [r.vmid, r.name, r.error ? `error: ${r.error}` : r.status, String(r.memory), String(r.disks), r.pid ? String(r.pid) : '', r.lock ?? ''])));
    }));

  vm.addCommand(withOutput(new Command('config').description('show a VM config').argument('<vmid>'))
    .action((vmid: string, o: { outputFormat: OutputFormat }) => {
      const conf = loadVm(vmid);
      printResult(o.outputFormat, { ...conf.props, ...(conf.description ? { description: conf.description } : {}) }, () => process.stdout.write(formatVmConfig({ ...conf, trailer: undefined })));
    }));

  vm.addCommand(withOutput(new Command('status').description('show whether a VM runs (and QEMU\'s run state)').argument('<vmid>'))
    .action(async (vmid: string, o: { outputFormat: OutputFormat }) => {
      loadVm(vmid);
      const st = await vmStatus(vmid);
      printResult(o.outputFormat, st, () => process.stdout.write(`status: ${st.status}${st.qmpstatus && st.qmpstatus !== 'running' ? ` (${st.qmpstatus})` : ''}\n`));
    }));

  vm.addCommand(new Command('start').description('start a VM').argument('<vmid>')
    .option('--paused', 'start QEMU with the guest CPUs paused (prelaunch)')
    .option('--skiplock', 'ignore a config lock')
    .action(async (vmid: string, o: { paused?: boolean; skiplock?: boolean }) => {
      const conf = loadVm(vmid);
      checkNotLocked(conf, o.skiplock);
      const pid = await startVm(conf, { paused: o.paused });
      note(`started VM ${vmid} (pid ${pid})${o.paused ? ', paused' : ''}`);
    }));

  vm.addCommand(new Command('shutdown').description('orderly shutdown (ACPI; the guest agent too when configured)').argument('<vmid>')
    .option('--timeout <seconds>', 'how long to wait', '180')
    .option('--force-stop', 'stop hard when the guest does not shut down in time')
    .option('--skiplock', 'ignore a config lock')
    .action(async (vmid: string, o: { timeout: string; forceStop?: boolean; skiplock?: boolean }) => {
      const conf = loadVm(vmid);
      checkNotLocked(conf, o.skiplock);
      await requireVmState(vmid, 'running');
      const timeout = Number(o.timeout);
      if (!Number.isFinite(timeout) || timeout < 0) throw new GuestvaultError('E_USAGE', `--timeout must be seconds, not '${o.timeout}'`);
      await shutdownVm(conf, { timeoutMs: timeout * 1000, forceStop: o.forceStop, useAgent: parseAgentOption(conf.props.agent).enabled, log: note });
      note(`VM ${vmid} shut down`);
    }));

  vm.addCommand(new Command('stop').description('stop a VM at once (like pulling the plug)').argument('<vmid>')
    .option('--skiplock', 'ignore a config lock')
    .action(async (vmid: string, o: { skiplock?: boolean }) => {
      checkNotLocked(loadVm(vmid), o.skiplock);
      await stopVm(vmid);
      note(`VM ${vmid} stopped`);
    }));

  vm.addCommand(new Command('suspend').description('pause the guest CPUs').argument('<vmid>')
    .option('--skiplock', 'ignore a config lock')
    .action(async (vmid: string, o: { skiplock?: boolean }) => {
      checkNotLocked(loadVm(vmid), o.skiplock);
      await requireVmState(vmid, 'running');
      await pauseVm(vmid);
      note(`VM ${vmid} suspended`);
    }));

  vm.addCommand(new Command('resume').description('resume paused guest CPUs').argument('<vmid>')
    .option('--skiplock', 'ignore a config lock')
    .action(async (vmid: string, o: { skiplock?: boolean }) => {
      checkNotLocked(loadVm(vmid), o.skiplock);
      await requireVmState(vmid, 'running');
      await resumeVm(vmid);
      note(`VM ${vmid} resumed`);
    }));

  vm.addCommand(new Command('unlock').description('remove a stale config lock').argument('<vmid>')
    .action(async (vmid: string) => {
      await withVmConfigLock(vmid, () => {
        const conf = loadVm(vmid);
        delete conf.props.lock;
        saveVm(conf);
      });
    }));

  vm.addCommand(new Command('destroy').description('remove a stopped VM: its config and the disk volumes it owns').argument('<vmid>')
    .option('--keep-disks', 'keep the disk volumes')
    .action(async (vmid: string, o: { keepDisks?: boolean }) => {
      await withVmConfigLock(vmid, async () => {
        const conf = loadVm(vmid);
        checkNotLocked(conf);
        await requireVmState(vmid, 'stopped');
        if (!o.keepDisks) {
          for (const d of vmDisks(conf)) {
            if (d.volid === 'none' || d.options.media === 'cdrom') continue;
            // Only volumes named for this VM are its own; a shared or foreign volume stays.
            const v = (() => {
              try {
                return resolveVolume(d.volid);
              } catch {
                return undefined;
              }
            })();
            if (v && v.vmid === vmid) freeVolume(d.volid);
          }
        }
        for (const k of Object.keys(conf.props)) if (/^unused\d+$/.test(k) && !o.keepDisks) {
          const volid = conf.props[k]!.split(',')[0]!;
          try {
            if (resolveVolume(volid).vmid === vmid) freeVolume(volid);
          } catch { /* not a volume we manage */ }
        }
        if (!o.keepDisks) for (const f of removeRestoreLeftovers(vmid)) note(`removed ${f} (left by an interrupted restore)`);
        removeVmConfig(vmid);
        note(`destroyed VM ${vmid}`);
      });
    }));

  return vm;
}


