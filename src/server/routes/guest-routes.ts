/** Guests: list (with last and next backup), config, status, power actions, backups, backup now and restore. */
import type { FastifyInstance } from 'fastify';
import {
  checkNotLocked, listVmids, loadVm, parseAgentOption, pauseVm, requireVmState, resumeVm, shutdownVm, startVm, stopVm, vmDisks, vmExists, vmStatus,
} from '../../guests/index.js';
import { loadJobs, nextJobRun, jobIncludes } from '../../jobs/index.js';
import { DEFAULT_DATASTORE_STORAGE, findBackupVolume, findStorage, loadStorages, parseCompress, storageContent, storageHasContent } from '../../storage/index.js';
import {
  checkTargetOptions, loadKeyFileNonInteractive, parseRestoreSource, readBackupStatus, readVzdumpDefaults, restoreVm, runVzdump, withVzdumpDefaults,
  type BackupMode, type VzdumpOptions,
} from '../../vzdump/index.js';
import { GuestvaultError } from '../../errors.js';
import { processAuthId } from '../../process-user.js';
import { authid, checkNode, ID_SCHEMA, VMID_SCHEMA, type ApiContext } from '../api-context.js';
import { HttpError } from '../http-error.js';

const NODE_VMID = { type: 'object', properties: { node: { type: 'string' }, vmid: VMID_SCHEMA } } as const;

type PowerAction = 'start' | 'stop' | 'shutdown' | 'suspend' | 'resume';

/** Stopping a power task stops waiting for it (a shutdown the guest was asked for may still happen). */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(new GuestvaultError('E_INTERRUPTED', 'interrupted'));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

async function power(vmid: string, action: PowerAction, log: (m: string) => void, signal: AbortSignal): Promise<void> {
  await Promise.race([powerAction(vmid, action, log), untilAborted(signal)]);
}

async function powerAction(vmid: string, action: PowerAction, log: (m: string) => void): Promise<void> {
  const conf = loadVm(vmid);
  checkNotLocked(conf);
  switch (action) {
    case 'start': {
      await requireVmState(vmid, 'stopped');
      const pid = await startVm(conf);
      log(`VM ${vmid} started (pid ${pid})`);
      return;
    }
    case 'stop':
      await stopVm(vmid);
      log(`VM ${vmid} stopped`);
      return;
    case 'shutdown':
      await requireVmState(vmid, 'running');
      await shutdownVm(conf, { timeoutMs: 180_000, forceStop: false, useAgent: parseAgentOption(conf.props.agent).enabled, log });
      log(`VM ${vmid} shut down`);
      return;
    case 'suspend':
      await requireVmState(vmid, 'running');
      await pauseVm(vmid);
      log(`VM ${vmid} suspended`);
      return;
    case 'resume':
      await requireVmState(vmid, 'running');
      await resumeVm(vmid);
      log(`VM ${vmid} resumed`);
  }
}

function checkVm(vmid: string): void {
  if (!vmExists(vmid)) throw new GuestvaultError('E_GUEST_UNKNOWN', `no VM ${vmid}`);
}

interface VzdumpBody {
  vmid?: string;
  all?: boolean;
  storage?: string;
  mode?: BackupMode;
  compress?: string;
  protected?: boolean;
  'notes-template'?: string;
}

interface RestoreBody {
  vmid: string;
  archive: string;
  storage?: string;
  force?: boolean;
}

export function guestRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Params: { node: string } }>('/nodes/:node/qemu', async (req) => {
    checkNode(ctx, req.params.node);
    const jobs = loadJobs().jobs;
    const now = Math.floor(Date.now() / 1000);
    const rows = [];
    for (const vmid of listVmids()) {
      if (!req.access.can(`/vms/${vmid}`, 'VM.Audit')) continue;
      try {
        const conf = loadVm(vmid);
        const st = await vmStatus(vmid);
        const next = jobs.filter((j) => jobIncludes(j, vmid)).map((j) => nextJobRun(j, now)).filter((t): t is number => t !== undefined);
        rows.push({
          vmid, name: conf.props.name ?? '', status: st.status, qmpstatus: st.qmpstatus ?? null, pid: st.pid ?? null, lock: conf.props.lock ?? null,
          memory: Number(conf.props.memory ?? 512), disks: vmDisks(conf).length,
          lastbackup: readBackupStatus('vm', vmid) ?? null, nextbackup: next.length ? Math.min(...next) : null,
        });
      } catch (err) {
        rows.push({ vmid, name: '', status: 'unknown', error: (err as Error).message });
      }
    }
    return { data: rows };
  });

  // As Proxmox's /cluster/nextid: the lowest VMID from 100 that no guest has (whoever may see it).
  app.get('/cluster/nextid', async () => {
    const taken = new Set(listVmids().map(Number));
    let id = 100;
    while (taken.has(id)) id++;
    return { data: String(id) };
  });

  app.get<{ Params: { node: string; vmid: string } }>('/nodes/:node/qemu/:vmid/config', { schema: { params: NODE_VMID } }, async (req) => {
    checkNode(ctx, req.params.node);
    req.access.need(`/vms/${req.params.vmid}`, 'VM.Audit');
    const conf = loadVm(req.params.vmid);
    return { data: { ...conf.props, ...(conf.description ? { description: conf.description } : {}) } };
  });

  app.get<{ Params: { node: string; vmid: string } }>('/nodes/:node/qemu/:vmid/status/current', { schema: { params: NODE_VMID } }, async (req) => {
    checkNode(ctx, req.params.node);
    req.access.need(`/vms/${req.params.vmid}`, 'VM.Audit');
    checkVm(req.params.vmid);
    const st = await vmStatus(req.params.vmid);
    return { data: { ...st, vmid: req.params.vmid } };
  });

  app.post<{ Params: { node: string; vmid: string; action: PowerAction } }>('/nodes/:node/qemu/:vmid/status/:action', {
    schema: { params: { type: 'object', properties: { node: { type: 'string' }, vmid: VMID_SCHEMA, action: { type: 'string', enum: ['start', 'stop', 'shutdown', 'suspend', 'resume'] } } } },
  }, async (req) => {
    checkNode(ctx, req.params.node);
    const { vmid, action } = req.params;
    req.access.need(`/vms/${vmid}`, 'VM.PowerMgmt');
    checkVm(vmid);
    return { data: ctx.runner.start(`qm${action}`, vmid, authid(req), (task, signal) => power(vmid, action, (m) => task.log(m), signal)) };
  });

  app.get<{ Params: { node: string; vmid: string } }>('/nodes/:node/qemu/:vmid/backups', { schema: { params: NODE_VMID } }, async (req) => {
    checkNode(ctx, req.params.node);
    req.access.need(`/vms/${req.params.vmid}`, 'VM.Audit');
    const out = [];
    for (const s of loadStorages()) {
      if (s.disable === '1' || !storageHasContent(s, 'backup') || !req.access.can(`/storage/${s.id}`, 'Datastore.Audit')) continue;
      try {
        out.push(...storageContent(s, { content: 'backup', vmid: req.params.vmid }).map(({ log: _log, ...e }) => ({ ...e, storage: s.id })));
      } catch {
        // An unreachable storage shows in the storage list with its reason; its backups are just not listed here.
      }
    }
    return { data: out.sort((a, b) => (b.ctime ?? 0) - (a.ctime ?? 0)) };
  });

  app.post<{ Params: { node: string }; Body: VzdumpBody }>('/nodes/:node/vzdump', {
    schema: {
      body: {
        type: 'object', additionalProperties: false,
        properties: {
          vmid: { type: 'string', pattern: '^[1-9][0-9]{2,8}(,[1-9][0-9]{2,8})*$' }, all: { type: 'boolean' }, storage: ID_SCHEMA,
          mode: { type: 'string', enum: ['snapshot', 'suspend', 'stop'] }, compress: { type: 'string', enum: ['0', '1', 'gzip', 'lzo', 'zstd'] },
          protected: { type: 'boolean' }, 'notes-template': { type: 'string', maxLength: 1024 },
        },
      },
    },
  }, async (req) => {
    checkNode(ctx, req.params.node);
    const b = req.body;
    if (!b.vmid && !b.all) throw new HttpError(400, 'give vmid (e.g. "100" or "100,101") or all: true');
    const defaults = readVzdumpDefaults();
    const storage = b.storage ?? (defaults.values.storage as string | undefined) ?? DEFAULT_DATASTORE_STORAGE;
    const vmids = b.vmid ? b.vmid.split(',') : listVmids();
    for (const vmid of vmids) {
      req.access.need(`/vms/${vmid}`, 'VM.Backup');
      if (b.vmid) checkVm(vmid);
    }
    req.access.need(`/storage/${storage}`, 'Datastore.AllocateSpace');
    findStorage(storage);
    const opts: VzdumpOptions = withVzdumpDefaults({
      vmid: b.vmid ? vmids : undefined, all: b.all, storage, mode: b.mode, protected: b.protected, 'notes-template': b['notes-template'],
      ...(b.compress !== undefined && parseCompress(b.compress) !== 'none' ? { compress: b.compress } : {}),
    }, defaults);
    checkTargetOptions(opts);
    const user = authid(req);
    return {
      data: ctx.runner.start('vzdump', vmids.length === 1 ? vmids[0]! : '', user, async (task, signal) => {
        for (const w of defaults.warnings) task.warn(w);
        const r = await runVzdump(opts, task, { user: processAuthId(), node: ctx.node, signal });
        if (r.failed) throw new GuestvaultError('E_JOB_ERRORS', `job errors (${r.failed} failed)`);
      }),
    };
  });

  app.post<{ Params: { node: string }; Body: RestoreBody }>('/nodes/:node/qemu', {
    schema: {
      body: {
        type: 'object', additionalProperties: false, required: ['vmid', 'archive'],
        properties: { vmid: VMID_SCHEMA, archive: { type: 'string', maxLength: 512, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*:backup/[^\\u0000]+$' }, storage: ID_SCHEMA, force: { type: 'boolean' } },
      },
    },
  }, async (req) => {
    checkNode(ctx, req.params.node);
    const { vmid, archive, storage, force } = req.body;
    const source = parseRestoreSource(archive);
    const from = source.storage!;
    // Only volids of the storage's content: never a path.
    findBackupVolume(from, archive);
    req.access.need(`/vms/${vmid}`, 'VM.Allocate');
    req.access.need(`/storage/${from}`, 'Datastore.Read');
    req.access.need(`/storage/${storage ?? 'local'}`, 'Datastore.AllocateSpace');
    if (vmExists(vmid) && !force) throw new HttpError(409, `VM ${vmid} exists: choose a new VMID or restore over it with force`);
    const fromCfg = findStorage(from);
    const crypt = source.kind === 'snapshot' && fromCfg['encryption-key'] ? loadKeyFileNonInteractive(fromCfg['encryption-key']) : undefined;
    return {
      data: ctx.runner.start('qmrestore', vmid, authid(req), async (task, signal) => {
        const r = await restoreVm({ source, vmid, storage, force, crypt, log: (l) => task.log(l), warn: (l) => task.warn(l), signal });
        task.log(`restored VM ${vmid} from ${archive}: ${r.disks.map((d) => `${d.key} ${d.volid}`).join(', ') || 'no disks'}`);
      }),
    };
  });
}
