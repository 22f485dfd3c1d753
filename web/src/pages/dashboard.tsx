import { getList, seg } from '../api';
import { DataTable, MessageRow } from '../components/data-table';
import { ErrorMessage } from '../components/error-message';
import { GuestTable } from '../components/guest-table';
import { PageHead } from '../components/page-head';
import { ResultBadge } from '../components/result-badge';
import { UsageBar } from '../components/usage-bar';
import { useApp } from '../context';
import { loadGuests, loadStorages } from '../data';
import { formatTime } from '../format';
import { href } from '../router';
import type { TaskEntry } from '../types';
import { useApiData, useInterval } from '../use-api';

const WEEK = 7 * 86400;

export function DashboardPage() {
  const { node, openTask } = useApp();
  const guests = useApiData(() => loadGuests(node), [node]);
  const storages = useApiData(() => loadStorages(node), [node]);
  const failed = useApiData(
    () => getList<TaskEntry>(`/nodes/${seg(node)}/tasks`, { errors: 1, since: Math.floor(Date.now() / 1000) - WEEK, limit: 100 }),
    [node],
  );
  useInterval(() => {
    guests.reload();
    failed.reload();
  }, 30_000);

  const list = guests.data ?? [];
  const neverBackedUp = list.filter((g) => !g.lastbackup).length;
  const lastFailed = list.filter((g) => g.lastbackup?.ok === false).length;

  return (
    <section class="page">
      <PageHead title="Dashboard" onRefresh={() => { guests.reload(); storages.reload(); failed.reload(); }} />

      <div class="tiles">
        <div class="tile">
          <div class="tile-value">{guests.data ? list.length : '…'}</div>
          <div class="tile-label">guests</div>
        </div>
        <div class={`tile${neverBackedUp ? ' tile-warn' : ''}`}>
          <div class="tile-value">{guests.data ? neverBackedUp : '…'}</div>
          <div class="tile-label">never backed up</div>
        </div>
        <div class={`tile${lastFailed || failed.data?.total ? ' tile-error' : ''}`}>
          <div class="tile-value">{failed.data ? failed.data.total : '…'}</div>
          <div class="tile-label">failed tasks (7 days)</div>
        </div>
      </div>

      <div class="panel">
        <h2>Guests and their backups</h2>
        <ErrorMessage error={guests.error} />
        <GuestTable guests={list} testId="dashboard-guests">
          {guests.data && list.length === 0 && <MessageRow colSpan={5}>No guests (or none you may see).</MessageRow>}
          {guests.loading && !guests.data && <MessageRow colSpan={5}>Loading…</MessageRow>}
        </GuestTable>
      </div>

      <div class="panel-grid">
        <div class="panel">
          <h2>Failed tasks, last 7 days</h2>
          <ErrorMessage error={failed.error} />
          {failed.data && failed.data.data.length === 0 && <p class="ok-message">No failed tasks in the last 7 days.</p>}
          {failed.data && failed.data.data.length > 0 && (
            <DataTable
              columns={['Start', 'Type', 'ID', 'Error']}
              testId="dashboard-failed-tasks"
              after={
                failed.data.total > failed.data.data.length && (
                  <p class="muted">
                    {failed.data.total - failed.data.data.length} more on the <a href="#/tasks">Tasks</a> page.
                  </p>
                )
              }
            >
              {failed.data.data.map((t) => (
                <tr key={t.upid} class="clickable" onClick={() => openTask(t.upid)} data-testid="failed-task-row" data-upid={t.upid}>
                  <td data-label="Start" class="nowrap">{formatTime(t.starttime)}</td>
                  <td data-label="Type">{t.type}</td>
                  <td data-label="ID">{t.id}</td>
                  <td data-label="Error">
                    <ResultBadge status={t.status} />
                  </td>
                </tr>
              ))}
            </DataTable>
          )}
        </div>

        <div class="panel">
          <h2>Storage usage</h2>
          <ErrorMessage error={storages.error} />
          <ul class="storage-usage" data-testid="dashboard-storages">
            {(storages.data ?? []).map((s) => (
              <li key={s.storage}>
                <div class="storage-usage-head">
                  <a href={href('storages', s.storage)}>{s.storage}</a>
                  <span class="muted">
                    {s.type}
                    {s.status !== 'active' ? `, ${s.status}` : ''}
                  </span>
                </div>
                {s.status === 'active' ? <UsageBar used={s.used} total={s.total} /> : <span class="muted">{s.reason ?? s.status}</span>}
              </li>
            ))}
          </ul>
        </div>
      </div>
    </section>
  );
}
