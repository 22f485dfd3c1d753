import { useState } from 'preact/hooks';
import { ErrorMessage } from '../components/error-message';
import { LastBackupCell, NextBackupCell } from '../components/last-backup';
import { useApp } from '../context';
import { loadGuests } from '../data';
import { href, navigate } from '../router';
import { useApiData } from '../use-api';

export function GuestListPage() {
  const { node } = useApp();
  const guests = useApiData(() => loadGuests(node), [node]);
  const [filter, setFilter] = useState('');

  const f = filter.trim().toLowerCase();
  const shown = (guests.data ?? []).filter((g) => !f || String(g.vmid).includes(f) || (g.name ?? '').toLowerCase().includes(f));

  return (
    <section class="page">
      <div class="page-head">
        <h1>Guests</h1>
        <input type="search" placeholder="Filter by VMID or name" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} data-testid="guest-filter" />
        <button type="button" onClick={guests.reload}>
          Refresh
        </button>
      </div>
      <ErrorMessage error={guests.error} />
      <div class="table-wrap">
        <table class="table responsive">
          <thead>
            <tr>
              <th>VMID</th>
              <th>Name</th>
              <th>Status</th>
              <th>Last backup</th>
              <th>Next backup</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((g) => (
              <tr key={g.vmid} class="clickable" onClick={() => navigate('guests', g.vmid)} data-testid={`guest-row-${g.vmid}`}>
                <td data-label="VMID">
                  <a href={href('guests', g.vmid)} onClick={(e) => e.stopPropagation()}>
                    {g.vmid}
                  </a>
                </td>
                <td data-label="Name">{g.name}</td>
                <td data-label="Status">
                  <span class={`status status-${g.status}`}>{g.qmpstatus && g.qmpstatus !== g.status ? `${g.status} (${g.qmpstatus})` : g.status}</span>
                  {g.lock && <span class="badge badge-warn">locked: {g.lock}</span>}
                  {g.error && <div class="cell-error">{g.error}</div>}
                </td>
                <td data-label="Last backup">
                  <LastBackupCell last={g.lastbackup} />
                </td>
                <td data-label="Next backup">
                  <NextBackupCell next={g.nextbackup} />
                </td>
              </tr>
            ))}
            {guests.data && shown.length === 0 && (
              <tr>
                <td colSpan={5} class="muted">
                  {filter ? 'No guest matches the filter.' : 'No guests (or none you may see).'}
                </td>
              </tr>
            )}
            {guests.loading && !guests.data && (
              <tr>
                <td colSpan={5} class="muted">
                  Loading…
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
