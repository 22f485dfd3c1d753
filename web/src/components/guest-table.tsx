import type { ComponentChildren } from 'preact';
import { guestState } from '../format';
import { href, navigate } from '../router';
import type { GuestEntry } from '../types';
import { DataTable } from './data-table';
import { LastBackupCell, NextBackupCell } from './last-backup';

interface GuestTableProps {
  guests: readonly GuestEntry[];
  /** Also the QEMU state, a lock and a config error in the Status column (the Guests page). */
  full?: boolean;
  testId?: string;
  /** Rows after the guests' (nothing to show, loading). */
  children?: ComponentChildren;
}

/** Guests with their last and next backup, a row a guest (a click opens it); 5 columns. */
export function GuestTable({ guests, full, testId, children }: GuestTableProps) {
  return (
    <DataTable columns={['VMID', 'Name', 'Status', 'Last backup', 'Next backup']} testId={testId}>
      {guests.map((g) => (
        <tr key={g.vmid} class="clickable" onClick={() => navigate('guests', g.vmid)} data-testid={`guest-row-${g.vmid}`}>
          <td data-label="VMID">
            <a href={href('guests', g.vmid)} onClick={(e) => e.stopPropagation()}>
              {g.vmid}
            </a>
          </td>
          <td data-label="Name">{g.name}</td>
          <td data-label="Status">
            <span class={`status status-${g.status}`}>{full ? guestState(g) : g.status}</span>
            {full && g.lock && <span class="badge badge-warn">locked: {g.lock}</span>}
            {full && g.error && <div class="cell-error">{g.error}</div>}
          </td>
          <td data-label="Last backup">
            <LastBackupCell last={g.lastbackup} />
          </td>
          <td data-label="Next backup">
            <NextBackupCell next={g.nextbackup} />
          </td>
        </tr>
      ))}
      {children}
    </DataTable>
  );
}
