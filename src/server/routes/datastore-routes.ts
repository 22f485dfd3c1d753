/** Datastores in Proxmox Backup Server's admin API shape: status, groups, snapshots, files, notes, protection, prune, gc, verify. */
import { statfsSync } from 'node:fs';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  Datastore, getNotes, loadDatastoreConfigs, readGcStatus, setNotes, setProtected, isProtected, type GroupRef, type SnapshotInfo, type SnapshotRef,
} from '../../datastore/index.js';
import { authid, ID_SCHEMA, type ApiContext } from '../api-context.js';
import { pruneGroups, startGc, startVerify } from '../datastore-ops.js';
import { HttpError } from '../http-error.js';
import { KEEP_SCHEMA_PROPERTIES, keepFromBody } from './storage-routes.js';

const STORE = { type: 'object', properties: { store: ID_SCHEMA } } as const;
const TYPE = { type: 'string', enum: ['vm', 'ct', 'host'] } as const;
const BID = { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$' } as const;
const TIME = { type: 'string', pattern: '^[0-9]{1,12}$' } as const;
const SNAP_QUERY = { type: 'object', additionalProperties: false, required: ['backup-type', 'backup-id', 'backup-time'], properties: { 'backup-type': TYPE, 'backup-id': BID, 'backup-time': TIME } } as const;

type SnapQuery = { 'backup-type': 'vm' | 'ct' | 'host'; 'backup-id': string; 'backup-time': string };
type StoreReq = FastifyRequest<{ Params: { store: string } }>;

function open(req: StoreReq, privilege: 'Datastore.Audit' | 'Datastore.Modify' | 'Datastore.Prune' | 'Datastore.Verify'): Datastore {
  req.access.need(`/datastore/${req.params.store}`, privilege);
  return Datastore.open(req.params.store);
}

function snapRef(store: Datastore, q: SnapQuery): SnapshotRef {
  const ref: SnapshotRef = { ns: [], type: q['backup-type'], id: q['backup-id'], time: Number(q['backup-time']) };
  store.loadManifest(ref); // a typed "no such snapshot" error
  return ref;
}

function allSnapshots(store: Datastore): SnapshotInfo[] {
  return store.listGroups([]).flatMap((g) => store.listSnapshots(g));
}

function snapshotJson(s: SnapshotInfo) {
  const u = s.manifest.unprotected as { notes?: unknown; verify_state?: { state?: string; upid?: string } };
  const comment = typeof u.notes === 'string' ? u.notes.split('\n')[0] : undefined;
  return {
    'backup-type': s.ref.type, 'backup-id': s.ref.id, 'backup-time': s.ref.time,
    files: s.manifest.files.map((f) => ({ filename: f.filename, size: f.size, 'crypt-mode': f['crypt-mode'] })),
    size: s.manifest.files.reduce((n, f) => n + f.size, 0),
    protected: s.protected,
    ...(comment ? { comment } : {}),
    ...(u.verify_state?.state ? { verification: { state: u.verify_state.state, upid: u.verify_state.upid } } : {}),
  };
}

export function datastoreRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/admin/datastore', async (req) => ({
    data: loadDatastoreConfigs().filter((d) => req.access.can(`/datastore/${d.name}`, 'Datastore.Audit'))
      .map((d) => ({ store: d.name, path: d.path, ...(d.comment ? { comment: d.comment } : {}) })),
  }));

  app.get<{ Params: { store: string } }>('/admin/datastore/:store/status', { schema: { params: STORE } }, async (req) => {
    const store = open(req, 'Datastore.Audit');
    const fs = statfsSync(store.path);
    const snaps = allSnapshots(store);
    const gc = readGcStatus(store);
    return {
      data: {
        total: fs.blocks * fs.bsize, used: (fs.blocks - fs.bfree) * fs.bsize, avail: fs.bavail * fs.bsize,
        groups: store.listGroups([]).length, snapshots: snaps.length,
        'logical-bytes': snaps.reduce((n, s) => n + s.manifest.files.reduce((m, f) => m + f.size, 0), 0),
        ...(gc ? { 'chunk-bytes': gc['disk-bytes'], chunks: gc['disk-chunks'], 'dedup-factor': gc['dedup-factor'], 'gc-status': gc } : {}),
      },
    };
  });

  app.get<{ Params: { store: string } }>('/admin/datastore/:store/groups', { schema: { params: STORE } }, async (req) => {
    const store = open(req, 'Datastore.Audit');
    return {
      data: store.listGroups([]).map((g) => {
        const snaps = store.listSnapshots(g);
        const last = snaps.at(-1);
        return { 'backup-type': g.type, 'backup-id': g.id, 'backup-count': snaps.length, 'last-backup': last?.ref.time ?? null, files: last?.manifest.files.map((f) => f.filename) ?? [] };
      }),
    };
  });

  app.get<{ Params: { store: string }; Querystring: { 'backup-type'?: 'vm' | 'ct' | 'host'; 'backup-id'?: string } }>('/admin/datastore/:store/snapshots', {
    schema: { params: STORE, querystring: { type: 'object', additionalProperties: false, properties: { 'backup-type': TYPE, 'backup-id': BID } } },
  }, async (req) => {
    const store = open(req, 'Datastore.Audit');
    const q = req.query;
    const groups = store.listGroups([]).filter((g) => (!q['backup-type'] || g.type === q['backup-type']) && (!q['backup-id'] || g.id === q['backup-id']));
    const snaps = groups.flatMap((g) => store.listSnapshots(g)).sort((a, b) => b.ref.time - a.ref.time);
    return { data: snaps.map(snapshotJson) };
  });

  app.get<{ Params: { store: string }; Querystring: SnapQuery }>('/admin/datastore/:store/files', { schema: { params: STORE, querystring: SNAP_QUERY } }, async (req) => {
    const store = open(req, 'Datastore.Audit');
    const m = store.loadManifest(snapRef(store, req.query));
    return { data: m.files.map((f) => ({ filename: f.filename, size: f.size, 'crypt-mode': f['crypt-mode'] })) };
  });

  app.get<{ Params: { store: string }; Querystring: SnapQuery }>('/admin/datastore/:store/notes', { schema: { params: STORE, querystring: SNAP_QUERY } }, async (req) => {
    const store = open(req, 'Datastore.Audit');
    return { data: getNotes(store, snapRef(store, req.query)) };
  });

  app.put<{ Params: { store: string }; Body: SnapQuery & { notes: string } }>('/admin/datastore/:store/notes', {
    schema: { params: STORE, body: { ...SNAP_QUERY, required: [...SNAP_QUERY.required, 'notes'], properties: { ...SNAP_QUERY.properties, notes: { type: 'string', maxLength: 16 * 1024 } } } },
  }, async (req) => {
    const store = open(req, 'Datastore.Modify');
    await setNotes(store, snapRef(store, req.body), req.body.notes);
    return { data: null };
  });

  app.get<{ Params: { store: string }; Querystring: SnapQuery }>('/admin/datastore/:store/protected', { schema: { params: STORE, querystring: SNAP_QUERY } }, async (req) => {
    const store = open(req, 'Datastore.Audit');
    return { data: isProtected(store, snapRef(store, req.query)) };
  });

  app.put<{ Params: { store: string }; Body: SnapQuery & { protected: boolean } }>('/admin/datastore/:store/protected', {
    schema: { params: STORE, body: { ...SNAP_QUERY, required: [...SNAP_QUERY.required, 'protected'], properties: { ...SNAP_QUERY.properties, protected: { type: 'boolean' } } } },
  }, async (req) => {
    const store = open(req, 'Datastore.Modify');
    setProtected(store, snapRef(store, req.body), req.body.protected);
    return { data: null };
  });

  app.post<{ Params: { store: string }; Body: Record<string, number | string | boolean | undefined> }>('/admin/datastore/:store/prune', {
    schema: { params: STORE, body: { type: 'object', additionalProperties: false, properties: { ...KEEP_SCHEMA_PROPERTIES, 'backup-type': TYPE, 'backup-id': BID, 'dry-run': { type: 'boolean' } } } },
  }, async (req) => {
    const store = open(req, 'Datastore.Prune');
    const b = req.body ?? {};
    const groups: GroupRef[] = store.listGroups([]).filter((g) => (!b['backup-type'] || g.type === b['backup-type']) && (!b['backup-id'] || g.id === b['backup-id']));
    if (b['backup-id'] && groups.length === 0) throw new HttpError(404, `no backup group ${String(b['backup-type'] ?? '*')}/${String(b['backup-id'])} in datastore '${store.name}'`);
    const rows = await pruneGroups(store, groups, keepFromBody(b as Record<string, number>), b['dry-run'] === true);
    return { data: rows };
  });

  app.post<{ Params: { store: string } }>('/admin/datastore/:store/gc', { schema: { params: STORE } }, async (req) => {
    const store = open(req, 'Datastore.Modify');
    return { data: startGc(ctx, store, authid(req)) };
  });

  app.post<{ Params: { store: string }; Body: Partial<SnapQuery> }>('/admin/datastore/:store/verify', {
    schema: { params: STORE, body: { type: 'object', additionalProperties: false, properties: { 'backup-type': TYPE, 'backup-id': BID, 'backup-time': TIME } } },
  }, async (req) => {
    const store = open(req, 'Datastore.Verify');
    const b = req.body ?? {};
    const refs = b['backup-time'] && b['backup-type'] && b['backup-id']
      ? [snapRef(store, b as SnapQuery)]
      : allSnapshots(store).filter((s) => (!b['backup-type'] || s.ref.type === b['backup-type']) && (!b['backup-id'] || s.ref.id === b['backup-id'])).map((s) => s.ref);
    return { data: startVerify(ctx, store, refs, authid(req)) };
  });
}

