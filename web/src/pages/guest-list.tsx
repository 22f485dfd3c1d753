import { useState } from 'preact/hooks';
import { MessageRow } from '../components/data-table';
import { ErrorMessage } from '../components/error-message';
import { GuestTable } from '../components/guest-table';
import { PageHead } from '../components/page-head';
import { useApp } from '../context';
import { loadGuests } from '../data';
import { useApiData } from '../use-api';

export function GuestListPage() {
  const { node } = useApp();
  const guests = useApiData(() => loadGuests(node), [node]);
  const [filter, setFilter] = useState('');

  const f = filter.trim().toLowerCase();
  const shown = (guests.data ?? []).filter((g) => !f || String(g.vmid).includes(f) || (g.name ?? '').toLowerCase().includes(f));

  return (
    <section class="page">
      <PageHead title="Guests" onRefresh={guests.reload}>
        <input type="search" placeholder="Filter by VMID or name" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} data-testid="guest-filter" />
      </PageHead>
      <ErrorMessage error={guests.error} />
      <GuestTable guests={shown} full>
        {guests.data && shown.length === 0 && <MessageRow colSpan={5}>{filter ? 'No guest matches the filter.' : 'No guests (or none you may see).'}</MessageRow>}
        {guests.loading && !guests.data && <MessageRow colSpan={5}>Loading…</MessageRow>}
      </GuestTable>
    </section>
  );
}
