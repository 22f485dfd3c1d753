import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { api, errorText, get, seg } from '../api';
import { useBackupActions } from '../components/backup-actions';
import { DataTable, MessageRow } from '../components/data-table';
import { ErrorMessage } from '../components/error-message';
import { LastBackupCell, NextBackupCell } from '../components/last-backup';
import { RefreshButton } from '../components/page-head';
import { useApp } from '../context';
import { BackupNowDialog } from '../dialogs/backup-now-dialog';
import { loadGuests, loadStorages } from '../data';
import { formatBytes, formatTime, guestState, truthy } from '../format';
import { href } from '../router';
import type { ContentEntry, GuestConfig, GuestStatus } from '../types';
import { useApiData, useInterval } from '../use-api';

type Power = 'start' | 'shutdown' | 'stop' | 'suspend' | 'resume';

const POWER_LABEL: Record<Power, string> = { start: 'Start', shutdown: 'Shutdown', stop: 'Stop', suspend: 'Suspend', resume: 'Resume' };

/** Which power actions make sense in a state (the server checks again). */
function powerAllowed(action: Power, st: GuestStatus | undefined): boolean {
  if (!st) return false;
  const paused = st.qmpstatus === 'paused' || st.qmpstatus === 'suspended';
  switch (action) {
    case 'start':
      return st.status === 'stopped';
    case 'shutdown':
    case 'stop':
      return st.status === 'running';
    case 'suspend':
      return st.status === 'running' && !paused;
    case 'resume':
      return st.status === 'running' && paused;
  }
}

export function GuestDetailPage({ vmid }: { vmid: string }) {
  const { node, can, openTask } = useApp();
  const base = `/nodes/${seg(node)}/qemu/${seg(vmid)}`;
  const config = useApiData(() => get<GuestConfig>(`${base}/config`), [base]);
  const status = useApiData(() => get<GuestStatus>(`${base}/status/current`), [base]);
  const backups = useApiData(() => get<ContentEntry[]>(`${base}/backups`), [base]);
  const guests = useApiData(() => loadGuests(node), [node]);
  const storages = useApiData(() => loadStorages(node), [node]);
  const [showBackup, setShowBackup] = useState(false);
  const [powerError, setPowerError] = useState<string>();
  const [powerBusy, setPowerBusy] = useState<Power>();
  useInterval(status.reload, 5000);

  const actions = useBackupActions({ guests: guests.data ?? [], storages: storages.data ?? [], changed: backups.reload });
  const entry = guests.data?.find((g) => String(g.vmid) === vmid);
  const name = config.data?.name ?? entry?.name;
  const mayBackup = can(`/vms/${vmid}`, 'VM.Backup');
  const mayPower = can(`/vms/${vmid}`, 'VM.PowerMgmt');

  const power = async (action: Power) => {
    setPowerBusy(action);
    setPowerError(undefined);
    try {
      const upid = await api<string>('POST', `${base}/status/${action}`);
      openTask(upid, { onDone: () => { status.reload(); guests.reload(); } });
    } catch (err) {
      setPowerError(errorText(err));
    } finally {
      setPowerBusy(undefined);
    }
  };

  const st = status.data;
  const stateText = st ? guestState(st) : '…';
  const configRows = Object.entries(config.data ?? {}).filter(([k]) => k !== 'description' && k !== 'digest').sort(([a], [b]) => a.localeCompare(b));

  return (
    <section class="page">
      <p class="crumbs">
        <a href={href('guests')}>Guests</a> ›
      </p>
      <div class="page-head">
        <h1>
          Guest {vmid}
          {name ? ` (${name})` : ''}
        </h1>
        <span class={`status status-${st?.status ?? 'unknown'}`} data-testid="guest-status">
          {stateText}
        </span>
      </div>

      <div class="toolbar">
        {(['start', 'shutdown', 'stop', 'suspend', 'resume'] as const).map((a) => (
          <button
            key={a}
            type="button"
            class={a === 'stop' ? 'danger' : undefined}
            disabled={!mayPower || !powerAllowed(a, st) || powerBusy !== undefined}
            title={mayPower ? undefined : 'You lack VM.PowerMgmt on this guest'}
            onClick={() => void power(a)}
            data-testid={`guest-${a}`}
          >
            {POWER_LABEL[a]}
          </button>
        ))}
        <span class="toolbar-spacer" />
        {mayBackup && (
          <button type="button" class="primary" onClick={() => setShowBackup(true)} data-testid="backup-now">
            Backup now
          </button>
        )}
      </div>
      <ErrorMessage error={powerError} />
      {/* A guest one may not see fails the same way three times: say it once. */}
      <ErrorMessage error={status.error !== config.error ? status.error : undefined} />

      <div class="panel-grid">
        <div class="panel">
          <h2>Backup schedule</h2>
          <dl class="kv">
            <dt>Last backup</dt>
            <dd>
              <LastBackupCell last={entry?.lastbackup} />
            </dd>
            <dt>Next backup</dt>
            <dd>
              <NextBackupCell next={entry?.nextbackup} />
            </dd>
          </dl>
        </div>
        <div class="panel">
          <h2>Configuration</h2>
          <ErrorMessage error={config.error} />
          {config.data?.description !== undefined && config.data.description !== '' && <pre class="description">{String(config.data.description)}</pre>}
          <dl class="kv" data-testid="guest-config">
            {configRows.map(([k, v]) => (
              <Fragment key={k}>
                <dt>{k}</dt>
                <dd class="break">{String(v)}</dd>
              </Fragment>
            ))}
          </dl>
        </div>
      </div>

      <div class="panel">
        <div class="panel-head">
          <h2>Backups on all storages</h2>
          <RefreshButton small onClick={backups.reload} />
        </div>
        <ErrorMessage error={backups.error !== config.error ? backups.error : undefined} />
        <ErrorMessage error={actions.error} />
        <DataTable columns={['Date', 'Storage', 'Format', 'Size', 'Notes', 'Protected', 'Verified', 'Actions']} testId="guest-backups">
          {(backups.data ?? []).map((b) => (
            <tr key={b.volid} data-testid="content-row" data-volid={b.volid}>
              <td data-label="Date" class="nowrap">
                {formatTime(b.ctime)}
              </td>
              <td data-label="Storage">
                <a href={href('storages', b.storage ?? '')}>{b.storage}</a>
              </td>
              <td data-label="Format">{b.format}</td>
              <td data-label="Size" class="num">
                {formatBytes(b.size)}
              </td>
              <td data-label="Notes" class="notes-cell">
                {b.notes}
              </td>
              <td data-label="Protected">{truthy(b.protected) ? <span class="badge badge-protected">protected</span> : ''}</td>
              <td data-label="Verified">{b.verification ? <span class={`badge badge-${b.verification === 'ok' ? 'ok' : 'error'}`}>{b.verification}</span> : <span class="muted">none</span>}</td>
              <td data-label="">{actions.buttons(b, b.storage ?? b.volid.split(':')[0] ?? '')}</td>
            </tr>
          ))}
          {backups.data && backups.data.length === 0 && <MessageRow colSpan={8}>No backups of this guest on any storage you may see.</MessageRow>}
        </DataTable>
      </div>

      {actions.dialogs}
      {showBackup && (
        <BackupNowDialog
          vmid={vmid}
          storages={storages.data ?? []}
          onClose={() => setShowBackup(false)}
          onStarted={(upid) => {
            setShowBackup(false);
            openTask(upid, { onDone: () => { backups.reload(); guests.reload(); } });
          }}
        />
      )}
    </section>
  );
}
