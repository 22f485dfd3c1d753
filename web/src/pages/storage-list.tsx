import { DataTable, MessageRow } from '../components/data-table';
import { ErrorMessage } from '../components/error-message';
import { PageHead } from '../components/page-head';
import { UsageBar } from '../components/usage-bar';
import { useApp } from '../context';
import { loadStorages } from '../data';
import { formatBytes } from '../format';
import { href, navigate } from '../router';
import { useApiData } from '../use-api';

export function StorageListPage() {
  const { node } = useApp();
  const storages = useApiData(() => loadStorages(node), [node]);
  return (
    <section class="page">
      <PageHead title="Storages" onRefresh={storages.reload} />
      <ErrorMessage error={storages.error} />
      <DataTable columns={['Storage', 'Type', 'Content', 'Status', { label: 'Usage', class: 'usage-col' }, 'Available']}>
        {(storages.data ?? []).map((s) => (
          <tr key={s.storage} class="clickable" onClick={() => navigate('storages', s.storage)} data-testid={`storage-row-${s.storage}`}>
            <td data-label="Storage">
              <a href={href('storages', s.storage)} onClick={(e) => e.stopPropagation()}>
                {s.storage}
              </a>
              {s.datastore && <div class="muted">datastore {s.datastore}</div>}
            </td>
            <td data-label="Type">{s.type}</td>
            <td data-label="Content">{s.content}</td>
            <td data-label="Status">
              <span class={`status status-${s.status}`}>{s.status}</span>
              {s.reason && <div class="cell-error">{s.reason}</div>}
            </td>
            <td data-label="Usage">
              <UsageBar used={s.used} total={s.total} />
            </td>
            <td data-label="Available" class="num">
              {formatBytes(s.avail)}
            </td>
          </tr>
        ))}
        {storages.data && storages.data.length === 0 && <MessageRow colSpan={6}>No storages you may see.</MessageRow>}
      </DataTable>
    </section>
  );
}
