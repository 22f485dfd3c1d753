import { Command, Option } from 'commander';
import { GuestvaultError } from '../../errors.js';
import { listVmids, loadVm } from '../../guests/index.js';
import { loadJobs } from '../../jobs/index.js';
import {
  activateStorage, addStorage, allStorageStatus, findStorage, loadStorages, removeStorage, storageContent, updateStorage, type StorageProps,
} from '../../storage/index.js';
import { formatSize } from '../../tasks/index.js';
import { printResult, printTable, withOutput, type OutputFormat } from '../output.js';

interface PropsCli {
  path?: string;
  server?: string;
  export?: string;
  options?: string;
  datastore?: string;
  content?: string;
  pruneBackups?: string;
  maxProtectedBackups?: string;
  comment?: string;
  disable?: string;
}

function withProps(cmd: Command): Command {
  return cmd
    .option('--path <dir>', 'dir: the base directory (archives in <dir>/dump, disk images in <dir>/images); nfs: the mount point (default GUESTVAULT_HOME/mnt/<id>)')
    .option('--server <host>', 'nfs: the NFS server')
    .option('--export <path>', 'nfs: the exported path on the server')
    .option('--options <mount options>', 'nfs: mount options (e.g. vers=4.2,soft)')
    .option('--datastore <name>', 'datastore: the datastore of datastore.cfg')
    .option('--content <list>', 'what it holds: backup and/or images (dir), backup (datastore)')
    .option('--prune-backups <keep>', 'retention after each backup, e.g. keep-daily=3,keep-weekly=2,keep-monthly=1')
    .option('--max-protected-backups <n>', 'dir: at most N protected backups per guest (-1: no limit)')
    .option('--comment <text>', 'a comment')
    .addOption(new Option('--disable <0|1>', 'disable the storage').choices(['0', '1']));
}

function props(o: PropsCli): StorageProps {
  const p: StorageProps = {};
  if (o.path !== undefined) p.path = o.path;
  if (o.server !== undefined) p.server = o.server;
  if (o.export !== undefined) p.export = o.export;
  if (o.options !== undefined) p.options = o.options;
  if (o.datastore !== undefined) p.datastore = o.datastore;
  if (o.content !== undefined) p.content = o.content;
  if (o.pruneBackups !== undefined) p['prune-backups'] = o.pruneBackups;
  if (o.maxProtectedBackups !== undefined) p['max-protected-backups'] = o.maxProtectedBackups;
  if (o.comment !== undefined) p.comment = o.comment;
  if (o.disable !== undefined) p.disable = o.disable;
  return p;
}

function percent(used?: number, total?: number): string {
  return used !== undefined && total ? `${((used / total) * 100).toFixed(1)}%` : '';
}

function time(ctime?: number): string {
  return ctime === undefined ? '' : new Date(ctime * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** What still uses a storage: guest disks on it and backup jobs that write to it. */
function usersOf(id: string): string[] {
  const users: string[] = [];
  for (const vmid of listVmids()) {
    const vm = loadVm(vmid);
    const keys = Object.entries(vm.props).filter(([, v]) => v.split(',')[0]!.startsWith(`${id}:`)).map(([k]) => k);
    if (keys.length) users.push(`VM ${vm.vmid} (${keys.join(', ')})`);
  }
  for (const job of loadJobs().jobs) if (job.storage === id) users.push(`backup job '${job.id}'`);
  return users;
}

/** `guestvault storage add|set|remove|list|status|content`, as Proxmox's `pvesm`. */
export function storageCommand(): Command {
  const cmd = new Command('storage').description("storages of storage.cfg, as Proxmox's pvesm: add, set, remove, list, status, content");
  withOutput(withProps(cmd.command('add')
    .description('add a storage: `dir` (archive files, disk images), `nfs` (the same on an NFS export, mounted on use) or `datastore` (a de-duplicating datastore)')
    .argument('<type>', 'dir, nfs or datastore')
    .argument('<id>', 'storage id')
    .addOption(new Option('--create-base-path <0|1>', 'dir: create the path if it does not exist').choices(['0', '1']).default('1'))))
    .action((type: string, id: string, o: PropsCli & { createBasePath: string; outputFormat: OutputFormat }) => {
      const cfg = addStorage(type, id, props(o), { createBasePath: o.createBasePath !== '0' });
      printResult(o.outputFormat, cfg, () => process.stdout.write(`added ${type} storage '${id}'\n`));
    });
  withOutput(withProps(cmd.command('set')
    .description('change properties of a storage')
    .argument('<id>', 'storage id')
    .option('--delete <keys>', 'properties to remove, comma-separated (e.g. prune-backups,comment)')))
    .action((id: string, o: PropsCli & { delete?: string; outputFormat: OutputFormat }) => {
      const cfg = updateStorage(id, props(o), o.delete?.split(',').map((k) => k.trim()).filter(Boolean) ?? []);
      printResult(o.outputFormat, cfg, () => process.stdout.write(`updated storage '${id}'\n`));
    });
  withOutput(cmd.command('remove')
    .description('remove a storage from storage.cfg (its files stay where they are); refused while guests or jobs use it')
    .argument('<id>', 'storage id'))
    .action((id: string, o: { outputFormat: OutputFormat }) => {
      findStorage(id);
      const users = usersOf(id);
      if (users.length) throw new GuestvaultError('E_STORAGE_IN_USE', `storage '${id}' is in use by ${users.join(', ')}: change those first`);
      const cfg = removeStorage(id);
      printResult(o.outputFormat, cfg, () => process.stdout.write(`removed storage '${id}' (files under ${cfg.type === 'nfs' ? `${cfg.server}:${cfg.export}` : cfg.path ?? `datastore '${cfg.datastore}'`} are kept)\n`));
    });
  withOutput(cmd.command('list').description('the configured storages'))
    .action((o: { outputFormat: OutputFormat }) => {
      const all = loadStorages();
      printResult(o.outputFormat, all, () => printTable(['ID', 'TYPE', 'CONTENT', 'WHERE', 'PRUNE-BACKUPS', 'COMMENT'], all.map((s) => [
        s.id, s.type, s.content ?? '', s.type === 'dir' ? s.path! : s.type === 'nfs' ? `${s.server}:${s.export}` : `datastore ${s.datastore}`, s['prune-backups'] ?? '', `${s.disable === '1' ? '(disabled) ' : ''}${s.comment ?? ''}`,
      ])));
    });
  withOutput(cmd.command('status')
    .description('whether each storage is usable, and how full it is')
    .argument('[id]', 'only this storage'))
    .action((id: string | undefined, o: { outputFormat: OutputFormat }) => {
      if (id !== undefined && !loadStorages().some((s) => s.id === id)) findStorage(id);
      const all = allStorageStatus().filter((s) => id === undefined || s.id === id);
      printResult(o.outputFormat, all, () => printTable(['NAME', 'TYPE', 'STATUS', 'TOTAL', 'USED', 'AVAILABLE', '%'], all.map((s) => [
        s.id, s.type, s.status === 'inactive' && s.reason ? `inactive (${s.reason})` : s.status,
        s.total !== undefined ? formatSize(s.total) : '', s.used !== undefined ? formatSize(s.used) : '', s.avail !== undefined ? formatSize(s.avail) : '', percent(s.used, s.total),
      ])));
    });
  withOutput(cmd.command('content')
    .description('what a storage holds: backups (archives with notes, protection and log; snapshots) and disk images')
    .argument('<id>', 'storage id')
    .addOption(new Option('--content <kind>', 'only backups or only disk images').choices(['backup', 'images']))
    .option('--vmid <vmid>', "only this guest's"))
    .action(async (id: string, o: { content?: 'backup' | 'images'; vmid?: string; outputFormat: OutputFormat }) => {
      const cfg = findStorage(id);
      await activateStorage(id);
      const entries = storageContent(cfg, { content: o.content, vmid: o.vmid });
      printResult(o.outputFormat, entries, () => printTable(['VOLID', 'FORMAT', 'TYPE', 'SIZE', 'VMID', 'TIME', 'PROT', 'NOTES'], entries.map((e) => [
        e.volid, e.format, e.content, formatSize(e.size), e.vmid ?? '', time(e.ctime), e.protected ? 'yes' : '', (e.notes ?? '').split('\n')[0]!,
      ])));
    });
  return cmd;
}
