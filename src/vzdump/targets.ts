/**
 * What a vzdump run backs up: each kind of guest (VMs, the host's paths, later containers) turns
 * a selection (ids, all, exclude) into targets, one backup group each.
 */
import { addSpecs, parseBackupSpec, type BackupSession, type GroupRef } from '../datastore/index.js';
import { GuestvaultError } from '../errors.js';
import { listVmids, loadVm } from '../guests/index.js';
import { backupVm, type BackupMode } from './vm-backup.js';
import { datastoreSink, type VmBackupSink } from './vm-sink.js';

export interface TargetIo {
  log: (line: string) => void;
  warn: (line: string) => void;
  signal?: AbortSignal;
}

export interface VzdumpSelection {
  vmid?: string[];
  all?: boolean;
  exclude?: string[];
  mode: BackupMode;
  stopwait?: number;
  script?: string;
  /** KiB/s (vzdump's bwlimit). */
  bwlimit?: number;
  'host-backup'?: string[];
}

/** Where one backup goes: a datastore session, or (VMs only) a VMA archive being written. */
export type BackupDest = { kind: 'datastore'; session: BackupSession } | { kind: 'archive'; vmSink: VmBackupSink };

/** One guest (or the host) that a run backs up into one backup group. */
export interface BackupTarget {
  label: string;
  group: Omit<GroupRef, 'ns'>;
  /** Values for the notes template. */
  name: string;
  /** vmid and type for hook scripts (`qemu`), when the target is a guest. */
  hook?: { vmid: string; vmtype: string };
  /** Back up; returns the effective mode when it differs (a stopped VM: stop). */
  backup(dest: BackupDest, storage: string, io: TargetIo): Promise<string | void>;
}

export interface GuestEngine {
  kind: string;
  /** Targets of this kind that the selection names. */
  select(sel: VzdumpSelection, node: string): BackupTarget[];
  /** Ids of the guests of this kind on this node (for `all` and for reporting unknown ids). */
  guestIds(node: string): string[];
}

/** Host backups of the paths in `host-backup`, as group host/<node>. */
export const hostEngine: GuestEngine = {
  kind: 'host',
  guestIds: () => [],
  select(sel, node) {
    if (!sel['host-backup']) return [];
    const specs = sel['host-backup'].map(parseBackupSpec);
    return [{
      label: `host/${node}`,
      group: { type: 'host', id: node },
      name: node,
      backup: (dest, storage, io) => {
        if (dest.kind !== 'datastore') throw new GuestvaultError('E_STORAGE_TYPE', `storage '${storage}' holds archive files: host paths can only be backed up into a datastore storage`);
        return addSpecs(dest.session, specs, { skipUnchanged: true, warn: io.warn });
      },
    }];
  },
};

/** QEMU VMs of this node (their configs under GUESTVAULT_HOME/guests). */
export const qemuEngine: GuestEngine = {
  kind: 'qemu',
  guestIds: () => listVmids(),
  select(sel) {
    const known = new Set(listVmids());
    const exclude = new Set(sel.exclude ?? []);
    const ids = sel.all || (sel.exclude && !sel.vmid) ? [...known].filter((id) => !exclude.has(id)) : (sel.vmid ?? []).filter((id) => known.has(id));
    return ids.sort((a, b) => Number(a) - Number(b)).map((vmid) => {
      let name = `vm${vmid}`;
      try {
        name = loadVm(vmid).props.name ?? name;
      } catch {
        // An unreadable config fails in backup() with the details.
      }
      return {
        label: `VM ${vmid}`,
        group: { type: 'vm', id: vmid },
        name,
        hook: { vmid, vmtype: 'qemu' },
        backup: async (dest, storage, io) => {
          // The freeze watchdog (default 60 s) can be shortened for guests known to freeze fast.
          const watchdog = Number(process.env.GUESTVAULT_FREEZE_WATCHDOG);
          const r = await backupVm(dest.kind === 'datastore' ? datastoreSink(dest.session) : dest.vmSink, vmid, {
            mode: sel.mode, storage, stopwait: sel.stopwait, bwlimit: sel.bwlimit, script: sel.script, log: io.log, warn: io.warn, signal: io.signal,
            ...(watchdog > 0 ? { freezeWatchdogMs: watchdog * 1000 } : {}),
          });
          return r.mode;
        },
      };
    });
  },
};

export const engines: GuestEngine[] = [qemuEngine, hostEngine];
