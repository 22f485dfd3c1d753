/** Storages: status, backup contents (notes, protection, removal, download), and verify/gc/prune. */
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Datastore, type GroupRef } from '../../datastore/index.js';
import { GuestvaultError } from '../../errors.js';
import { KEEP_COUNT_OPTIONS, type KeepOptions } from '../../retention/index.js';
import {
  activateStorage, allStorageStatus, backupVolumePath, checkNfsMounted, findBackupVolume, findStorage, isFileStorage, loadStorages, parseArchiveName, removeBackup,
  setBackupNotes, setBackupProtected, storageContent, storageHasContent, type StorageConfig,
} from '../../storage/index.js';
import { pruneArchives } from '../../vzdump/archive-backup.js';
import type { Privilege } from '../auth/index.js';
import { authid, checkNode, ID_SCHEMA, type ApiContext } from '../api-context.js';
import { pruneGroups, startGc, startVerify } from '../datastore-ops.js';
import { HttpError } from '../http-error.js';

const NODE_STORAGE = { type: 'object', properties: { node: { type: 'string' }, storage: ID_SCHEMA } } as const;
const VOLID = { type: 'string', minLength: 1, maxLength: 512 } as const;
const COUNT = { type: 'integer', minimum: 0, maximum: 100_000 } as const;
export const KEEP_SCHEMA_PROPERTIES = Object.fromEntries(KEEP_COUNT_OPTIONS.map((k) => [k, COUNT]));

type KeepBody = Partial<Record<(typeof KEEP_COUNT_OPTIONS)[number], number>>;

export function keepFromBody(b: KeepBody): KeepOptions {
  const keep: KeepOptions = {};
  for (const k of KEEP_COUNT_OPTIONS) if (b[k]) keep[k] = b[k];
  return keep;
}

function keepText(keep: KeepOptions): string {
  const parts = KEEP_COUNT_OPTIONS.filter((k) => keep[k]).map((k) => `${k}=${keep[k]}`);
  return parts.length ? parts.join(',') : 'keep-all=1';
}

function storageFor(req: FastifyRequest<{ Params: { storage: string } }>, privilege: Privilege): StorageConfig {
  req.access.need(`/storage/${req.params.storage}`, privilege);
  return findStorage(req.params.storage);
}

function datastoreOf(s: StorageConfig): Datastore {
  if (isFileStorage(s)) throw new HttpError(400, `storage '${s.id}' is a ${s.type} storage: verify and garbage collection work on datastore storages`);
  return Datastore.open(s.datastore!);
}

export function storageRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Params: { node: string } }>('/nodes/:node/storage', async (req) => {
    checkNode(ctx, req.params.node);
    const configs = new Map(loadStorages().map((s) => [s.id, s]));
    const data = allStorageStatus().filter((s) => req.access.can(`/storage/${s.id}`, 'Datastore.Audit')).map(({ id, ...rest }) => {
      const c = configs.get(id);
      return { storage: id, ...rest, ...(c?.type === 'datastore' ? { datastore: c.datastore } : {}), ...(c?.comment ? { comment: c.comment } : {}) };
    });
    return { data };
  });

  app.get<{ Params: { node: string; storage: string }; Querystring: { content?: 'backup' | 'images'; vmid?: string } }>('/nodes/:node/storage/:storage/content', {
    schema: {
      params: NODE_STORAGE,
      querystring: { type: 'object', additionalProperties: false, properties: { content: { type: 'string', enum: ['backup', 'images'] }, vmid: { type: 'string', pattern: '^[1-9][0-9]{2,8}$' } } },
    },
  }, async (req) => {
    checkNode(ctx, req.params.node);
    const s = storageFor(req, 'Datastore.Audit');
    await activateStorage(s.id);
    const entries = storageContent(s, { content: req.query.content, vmid: req.query.vmid }).map(({ log: _log, ...e }) => e);
    return { data: entries.sort((a, b) => (b.ctime ?? 0) - (a.ctime ?? 0)) };
  });

  app.put<{ Params: { node: string; storage: string; volid: string }; Body: { notes?: string; protected?: boolean } }>('/nodes/:node/storage/:storage/content/:volid', {
    schema: {
      params: { type: 'object', properties: { node: { type: 'string' }, storage: ID_SCHEMA, volid: VOLID } },
      body: { type: 'object', additionalProperties: false, properties: { notes: { type: 'string', maxLength: 16 * 1024 }, protected: { type: 'boolean' } } },
    },
  }, async (req) => {
    checkNode(ctx, req.params.node);
    const s = storageFor(req, 'Datastore.Modify');
    await activateStorage(s.id);
    const v = findBackupVolume(s.id, req.params.volid);
    if (req.body.notes !== undefined) await setBackupNotes(v, req.body.notes);
    if (req.body.protected !== undefined) setBackupProtected(v, req.body.protected);
    return { data: null };
  });

  app.delete<{ Params: { node: string; storage: string; volid: string } }>('/nodes/:node/storage/:storage/content/:volid', {
    schema: { params: { type: 'object', properties: { node: { type: 'string' }, storage: ID_SCHEMA, volid: VOLID } } },
  }, async (req) => {
    checkNode(ctx, req.params.node);
    const s = storageFor(req, 'Datastore.Modify');
    await activateStorage(s.id);
    await removeBackup(findBackupVolume(s.id, req.params.volid));
    return { data: null };
  });

  app.get<{ Params: { node: string; storage: string }; Querystring: { volume: string } }>('/nodes/:node/storage/:storage/download', {
    schema: { params: NODE_STORAGE, querystring: { type: 'object', additionalProperties: false, required: ['volume'], properties: { volume: VOLID } } },
  }, async (req, reply) => {
    checkNode(ctx, req.params.node);
    const s = storageFor(req, 'Datastore.Read');
    await activateStorage(s.id);
    const v = findBackupVolume(s.id, req.query.volume);
    const path = backupVolumePath(v);
    if (!path) throw new HttpError(400, `'${v.volid}' is a datastore snapshot: only archive files can be downloaded`);
    const name = path.slice(path.lastIndexOf('/') + 1);
    void reply.header('content-type', 'application/octet-stream')
      .header('content-length', statSync(path).size)
      .header('content-disposition', `attachment; filename="${name}"`);
    return reply.send(createReadStream(path));
  });

  app.post<{ Params: { node: string; storage: string }; Body: { volid?: string } }>('/nodes/:node/storage/:storage/verify', {
    schema: { params: NODE_STORAGE, body: { type: 'object', additionalProperties: false, properties: { volid: VOLID } } },
  }, async (req) => {
    checkNode(ctx, req.params.node);
    const s = storageFor(req, 'Datastore.Verify');
    const store = datastoreOf(s);
    const body = req.body ?? {};
    let refs;
    if (body.volid) {
      const v = findBackupVolume(s.id, body.volid);
      refs = v.kind === 'snapshot' ? [v.ref] : [];
    } else {
      refs = store.listGroups([]).flatMap((g) => store.listSnapshots(g).map((x) => x.ref));
    }
    return { data: startVerify(ctx, store, refs, authid(req)) };
  });

  app.post<{ Params: { node: string; storage: string } }>('/nodes/:node/storage/:storage/gc', { schema: { params: NODE_STORAGE } }, async (req) => {
    checkNode(ctx, req.params.node);
    const s = storageFor(req, 'Datastore.Modify');
    return { data: startGc(ctx, datastoreOf(s), authid(req)) };
  });

  app.post<{ Params: { node: string; storage: string }; Body: KeepBody & { vmid?: string; 'dry-run'?: boolean } }>('/nodes/:node/storage/:storage/prune', {
    schema: {
      params: NODE_STORAGE,
      body: { type: 'object', additionalProperties: false, properties: { ...KEEP_SCHEMA_PROPERTIES, vmid: { type: 'string', pattern: '^[1-9][0-9]{2,8}$' }, 'dry-run': { type: 'boolean' } } },
    },
  }, async (req) => {
    checkNode(ctx, req.params.node);
    const s = storageFor(req, 'Datastore.Prune');
    if (!storageHasContent(s, 'backup')) throw new GuestvaultError('E_STORAGE_CONTENT', `storage '${s.id}' holds no backups`);
    await activateStorage(s.id);
    const body = req.body ?? {};
    const keep = keepFromBody(body);
    const dry = body['dry-run'] === true;
    if (isFileStorage(s)) {
      const dir = join(s.type === 'nfs' ? checkNfsMounted(s) : s.path!, 'dump');
      const vmids = body.vmid ? [body.vmid] : !existsSync(dir) ? [] : [...new Set(readdirSync(dir).map((f) => parseArchiveName(f)?.vmid).filter((v) => v !== undefined).map(String))];
      const rows = vmids.flatMap((vmid) => pruneArchives(dir, 'qemu', vmid, keepText(keep), dry)
        .map((e) => ({ volid: `${s.id}:backup/${e.file}`, vmid, ctime: e.time, mark: e.mark, reason: e.reason, removed: e.removed })));
      return { data: rows };
    }
    const store = datastoreOf(s);
    const groups: GroupRef[] = body.vmid ? [{ ns: [], type: 'vm', id: body.vmid }] : store.listGroups([]);
    const rows = await pruneGroups(store, groups, keep, dry);
    return { data: rows.map((r) => ({ volid: `${s.id}:backup/${r.snapshot}`, vmid: r['backup-id'], ctime: r['backup-time'], mark: r.mark, reason: r.reason, removed: r.removed })) };
  });
}
