import { formatTime, relativeTime } from '../format';
import type { LastBackup } from '../types';

/** When the newest backup was made, where, and (when the server says) whether the last attempt worked. */
export function LastBackupCell({ last }: { last: LastBackup | null | undefined }) {
  if (!last) return <span class="muted">never</span>;
  const failed = last.ok === false;
  return (
    <span class="last-backup" title={last.volid ?? last.error ?? ''}>
      <span class={`badge badge-${failed ? 'error' : 'ok'}`}>{failed ? 'failed' : 'OK'}</span> <span class="nowrap">{formatTime(last.time)}</span>{' '}
      <span class="muted">
        ({relativeTime(last.time)}, {last.storage})
      </span>
      {failed && last.error && <div class="cell-error">{last.error}</div>}
    </span>
  );
}

export function NextBackupCell({ next }: { next: number | null | undefined }) {
  if (next === undefined || next === null) return <span class="muted">not scheduled</span>;
  return (
    <span>
      <span class="nowrap">{formatTime(next)}</span> <span class="muted">({relativeTime(next)})</span>
    </span>
  );
}
