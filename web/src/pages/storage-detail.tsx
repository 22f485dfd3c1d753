import { useMemo, useState } from 'preact/hooks';
import { api, errorText, get, seg } from '../api';
import { useBackupActions } from '../components/backup-actions';
import { ErrorMessage } from '../components/error-message';
import { RefreshButton } from '../components/page-head';
import { ResultBadge } from '../components/result-badge';
import { UsageBar } from '../components/usage-bar';
import { VirtualList } from '../components/virtual-list';
import { useApp } from '../context';
import { loadGuests, loadStorages } from '../data';
import { formatBytes, formatTime, truthy, vmidOf } from '../format';
import { href } from '../router';
import type { ContentEntry, DatastoreStatus, StorageEntry, TaskStatus } from '../types';
import { PHONE_QUERY, useApiData, useMediaQuery } from '../use-api';

const ROW_HEIGHT = 40;
const PHONE_ROW_HEIGHT = 92;
// The VMID column only when the list is not grouped by guest (the group rows say it).
const COLUMNS = '155px 70px 75px minmax(100px, 1fr) 80px 65px 330px';
const COLUMNS_FLAT = '155px 55px 70px 75px minmax(100px, 1fr) 80px 65px 330px';

type Row = { kind: 'group'; vmid: string; count: number; size: number } | { kind: 'entry'; entry: ContentEntry };

export function StorageDetailPage({ storageId }: { storageId: string }) {
  const { node } = useApp();
  const storages = useApiData(() => loadStorages(node), [node]);
  const guests = useApiData(() => loadGuests(node), [node]);
  const content = useApiData(
    () => get<ContentEntry[]>(`/nodes/${seg(node)}/storage/${seg(storageId)}/content`, { content: 'backup' }),
    [node, storageId],
  );
  const [vmidFilter, setVmidFilter] = useState('');
  const [grouped, setGrouped] = useState(true);
  const phone = useMediaQuery(PHONE_QUERY);
  const storage = storages.data?.find((s) => s.storage === storageId);
  const actions = useBackupActions({ guests: guests.data ?? [], storages: storages.data ?? [], changed: content.reload });

  const names = useMemo(() => new Map((guests.data ?? []).map((g) => [String(g.vmid), g.name ?? ''])), [guests.data]);

  const rows = useMemo<Row[]>(() => {
    const f = vmidFilter.trim();
    const list = (content.data ?? []).filter((e) => !f || vmidOf(e).startsWith(f));
    if (!grouped) return list.map((entry) => ({ kind: 'entry', entry }));
    const groups = new Map<string, ContentEntry[]>();
    for (const e of list) {
      const id = vmidOf(e);
      const g = groups.get(id);
      if (g) g.push(e);
      else groups.set(id, [e]);
    }
    const out: Row[] = [];
    for (const id of [...groups.keys()].sort((a, b) => Number(a) - Number(b))) {
      const entries = groups.get(id)!.sort((a, b) => (b.ctime ?? 0) - (a.ctime ?? 0));
      out.push({ kind: 'group', vmid: id, count: entries.length, size: entries.reduce((s, e) => s + e.size, 0) });
      for (const entry of entries) out.push({ kind: 'entry', entry });
    }
    return out;
  }, [content.data, vmidFilter, grouped]);

  const entryCount = grouped ? rows.filter((r) => r.kind === 'entry').length : rows.length;

  return (
    <section class="page">
      <p class="crumbs">
        <a href={href('storages')}>Storages</a> ›
      </p>
      <div class="page-head">
        <h1>Storage {storageId}</h1>
        {storage && (
          <span class="muted">
            {storage.type}
            {storage.datastore ? ` → datastore ${storage.datastore}` : ''}, {storage.content}
          </span>
        )}
        <span class={`status status-${storage?.status ?? 'unknown'}`}>{storage?.status ?? ''}</span>
      </div>
      <ErrorMessage error={storages.error} />
      {storages.data && !storage && <ErrorMessage error={`No storage '${storageId}' (or you may not see it).`} />}
      {storage?.reason && <ErrorMessage error={storage.reason} />}

      <div class="panel-grid">
        <div class="panel">
          <h2>Usage</h2>
          <UsageBar used={storage?.used} total={storage?.total} />
          {storage?.avail !== undefined && <p class="muted">{formatBytes(storage.avail)} available</p>}
        </div>
        {storage?.type === 'datastore' && <DatastorePanel storage={storage} onChanged={content.reload} />}
      </div>

      <div class="panel">
        <div class="panel-head">
          <h2>Backups</h2>
          <label class="inline">
            VMID
            <input type="search" inputMode="numeric" class="narrow" placeholder="all" value={vmidFilter} onInput={(e) => setVmidFilter(e.currentTarget.value)} data-testid="content-filter-vmid" />
          </label>
          <label class="check inline">
            <input type="checkbox" checked={grouped} onChange={(e) => setGrouped(e.currentTarget.checked)} data-testid="content-group" />
            group by guest
          </label>
          <span class="muted" data-testid="content-count">
            {content.data ? `${entryCount} of ${content.data.length}` : content.loading ? 'loading…' : ''}
          </span>
          <RefreshButton small onClick={content.reload} />
        </div>
        <ErrorMessage error={content.error} />
        {actions.error && (
          <div class="error-message" data-testid="error-message" role="alert">
            {actions.error}{' '}
            <button type="button" class="link" onClick={actions.clearError}>
              dismiss
            </button>
          </div>
        )}
        <VirtualList
          items={rows}
          rowHeight={phone ? PHONE_ROW_HEIGHT : ROW_HEIGHT}
          columns={grouped ? COLUMNS : COLUMNS_FLAT}
          minWidth={phone ? 0 : grouped ? 960 : 1020}
          class="content-list"
          testId="content-list"
          resetKey={`${storageId}|${vmidFilter}|${grouped}|${phone}`}
          header={
            phone ? undefined : (
              <>
                <div>Date</div>
                {!grouped && <div>VMID</div>}
                <div>Format</div>
                <div class="num">Size</div>
                <div>Notes</div>
                <div>Protected</div>
                <div>Verified</div>
                <div>Actions</div>
              </>
            )
          }
          empty={content.data ? (vmidFilter ? 'No backups of that guest here.' : 'No backups on this storage.') : null}
          renderRow={(row, _i, style) => {
            if (row.kind === 'group') {
              return (
                <div key={`g-${row.vmid}`} class="vlist-row group-row" style={style}>
                  <span>
                    <strong>Guest {row.vmid || '?'}</strong> {names.get(row.vmid) ? <span>({names.get(row.vmid)})</span> : null}
                    <span class="muted">
                      {' '}
                      — {row.count} backup{row.count === 1 ? '' : 's'}, {formatBytes(row.size)}
                    </span>
                  </span>
                </div>
              );
            }
            const e = row.entry;
            const prot = truthy(e.protected) ? <span class="badge badge-protected">protected</span> : null;
            const verified = e.verification ? <span class={`badge badge-${e.verification === 'ok' ? 'ok' : 'error'}`}>{e.verification}</span> : null;
            if (phone) {
              return (
                <div key={e.volid} class="vlist-row phone-row" style={style} data-testid="content-row" data-volid={e.volid}>
                  <div class="phone-line">
                    <strong>{e.ctime !== undefined ? formatTime(e.ctime) : e.volid}</strong>
                    <span class="muted">VM {vmidOf(e)}</span>
                    <span class="num">{formatBytes(e.size)}</span>
                  </div>
                  <div class="phone-line muted">
                    <span>{e.format}</span>
                    {prot}
                    {verified}
                    <span class="ellipsis">{e.notes}</span>
                  </div>
                  <div class="phone-line">{actions.buttons(e, storageId)}</div>
                </div>
              );
            }
            return (
              <div key={e.volid} class="vlist-row vlist-grid" style={style} data-testid="content-row" data-volid={e.volid}>
                <div title={e.volid}>{e.ctime !== undefined ? formatTime(e.ctime) : e.volid}</div>
                {!grouped && <div>{vmidOf(e)}</div>}
                <div>{e.format}</div>
                <div class="num">{formatBytes(e.size)}</div>
                <div title={e.notes}>{e.notes}</div>
                <div>{prot}</div>
                <div>{verified ?? <span class="muted">—</span>}</div>
                <div>{actions.buttons(e, storageId)}</div>
              </div>
            );
          }}
        />
      </div>
      {actions.dialogs}
    </section>
  );
}

/** A datastore's own numbers (dedup) and its maintenance tasks. */
function DatastorePanel({ storage, onChanged }: { storage: StorageEntry; onChanged: () => void }) {
  const { node, can, openTask } = useApp();
  const store = storage.datastore;
  const status = useApiData(
    () => (store ? get<DatastoreStatus>(`/admin/datastore/${seg(store)}/status`) : Promise.reject(new Error('the storage entry names no datastore'))),
    [store],
  );
  const [results, setResults] = useState<{ verify?: string; gc?: string }>({});
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState<'verify' | 'gc'>();

  const start = async (what: 'verify' | 'gc') => {
    setBusy(what);
    setError(undefined);
    try {
      const path = `/nodes/${seg(node)}/storage/${seg(storage.storage)}/${what}`;
      const upid = await api<string>('POST', path, what === 'verify' ? {} : undefined);
      setResults((r) => ({ ...r, [what]: undefined }));
      openTask(upid, {
        onDone: (st: TaskStatus) => {
          setResults((r) => ({ ...r, [what]: st.exitstatus ?? 'unknown' }));
          status.reload();
          onChanged();
        },
      });
    } catch (err) {
      setError(`${what === 'verify' ? 'Verify' : 'Garbage collection'}: ${errorText(err)}`);
    } finally {
      setBusy(undefined);
    }
  };

  const s = status.data;
  return (
    <div class="panel" data-testid="datastore-panel">
      <h2>Datastore {store}</h2>
      <ErrorMessage error={status.error} />
      {s && (
        <dl class="kv">
          <dt>Usage</dt>
          <dd>
            <UsageBar used={s.used} total={s.total} />
          </dd>
          <dt>Dedup factor</dt>
          <dd data-testid="datastore-dedup">{s['dedup-factor'] !== undefined ? `${s['dedup-factor'].toFixed(2)} ×` : '—'}</dd>
          {s['logical-bytes'] !== undefined && (
            <>
              <dt>Data in backups</dt>
              <dd>
                {formatBytes(s['logical-bytes'])}
                {s['chunk-bytes'] !== undefined ? ` stored in ${formatBytes(s['chunk-bytes'])}` : ' (garbage collection counts what is stored)'}
              </dd>
            </>
          )}
          {s.chunks !== undefined && (
            <>
              <dt>Chunks</dt>
              <dd>{s.chunks.toLocaleString()}</dd>
            </>
          )}
          <dt>Snapshots</dt>
          <dd>
            {s.snapshots ?? '—'} in {s.groups ?? '—'} groups
          </dd>
        </dl>
      )}
      <div class="toolbar">
        {can(`/storage/${storage.storage}`, 'Datastore.Verify') && (
          <button type="button" disabled={busy !== undefined} onClick={() => void start('verify')} data-testid="verify-button">
            Verify all
          </button>
        )}
        {can(`/storage/${storage.storage}`, 'Datastore.Modify') && (
          <button type="button" disabled={busy !== undefined} onClick={() => void start('gc')} data-testid="gc-button">
            Garbage collection
          </button>
        )}
      </div>
      {results.verify && (
        <p data-testid="verify-result">
          Last verify: <ResultBadge status={results.verify} />
        </p>
      )}
      {results.gc && (
        <p data-testid="gc-result">
          Last garbage collection: <ResultBadge status={results.gc} />
        </p>
      )}
      <ErrorMessage error={error} />
    </div>
  );
}
