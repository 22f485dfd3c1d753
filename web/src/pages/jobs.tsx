import { useState } from 'preact/hooks';
import { api, errorText, get, seg } from '../api';
import { ConfirmDialog } from '../components/confirm-dialog';
import { DataTable, MessageRow } from '../components/data-table';
import { ErrorMessage } from '../components/error-message';
import { PageHead } from '../components/page-head';
import { ResultBadge } from '../components/result-badge';
import { useApp } from '../context';
import { loadGuests, loadStorages } from '../data';
import { JobDialog } from '../dialogs/job-dialog';
import { formatTime, idList, relativeTime, truthy } from '../format';
import type { BackupJob, JobLastRun } from '../types';
import { useApiData } from '../use-api';

/** The last run in the contract's shape, also from a bare time with last-status/last-upid beside it. */
function lastRunOf(job: BackupJob): JobLastRun | undefined {
  const lr = job['last-run'];
  if (lr !== null && typeof lr === 'object') return lr;
  if (typeof lr === 'number') {
    return { time: lr, status: job['last-status'] ?? undefined, upid: job['last-upid'] ?? undefined, state: job.running ? 'started' : undefined };
  }
  return undefined;
}

export function selectionText(job: BackupJob): string {
  if (truthy(job.all)) {
    const ex = idList(job.exclude);
    return ex.length ? `all except ${ex.join(', ')}` : 'all guests';
  }
  const ids = idList(job.vmid);
  return ids.length ? ids.join(', ') : 'none';
}

export function JobsPage() {
  const { node, can, openTask } = useApp();
  const jobs = useApiData(async () => (await get<BackupJob[]>('/cluster/backup')).sort((a, b) => a.id.localeCompare(b.id)), []);
  const guests = useApiData(() => loadGuests(node), [node]);
  const storages = useApiData(() => loadStorages(node), [node]);
  const [editing, setEditing] = useState<{ job?: BackupJob }>();
  const [deleting, setDeleting] = useState<BackupJob>();
  const [rowError, setRowError] = useState<string>();
  const mayModify = can('/', 'Sys.Modify');

  const runNow = async (job: BackupJob) => {
    setRowError(undefined);
    try {
      const upid = await api<string>('POST', `/cluster/backup/${seg(job.id)}/run-now`);
      openTask(upid, { onDone: jobs.reload });
    } catch (err) {
      setRowError(`Job ${job.id}: ${errorText(err)}`);
    }
  };

  return (
    <section class="page">
      <PageHead title="Backup jobs" onRefresh={jobs.reload}>
        {mayModify && (
          <button type="button" class="primary" onClick={() => setEditing({})} data-testid="job-create">
            Create
          </button>
        )}
      </PageHead>
      <ErrorMessage error={jobs.error} />
      <ErrorMessage error={rowError} />
      <DataTable columns={['Enabled', 'ID', 'Schedule', 'Storage', 'Guests', 'Retention', 'Next run', 'Last run', 'Comment', mayModify && 'Actions']} testId="job-table">
        {(jobs.data ?? []).map((job) => {
          const last = lastRunOf(job);
          const running = last?.state === 'started' || job.running === true;
          return (
            <tr key={job.id} data-testid={`job-row-${job.id}`} class={truthy(job.enabled) ? undefined : 'disabled-row'}>
              <td data-label="Enabled">{truthy(job.enabled) ? '✓ yes' : 'no'}</td>
              <td data-label="ID" class="nowrap">
                {job.id}
              </td>
              <td data-label="Schedule" class="nowrap mono">
                {job.schedule}
              </td>
              <td data-label="Storage">{job.storage ?? <span class="muted">default</span>}</td>
              <td data-label="Guests">{selectionText(job)}</td>
              <td data-label="Retention" class="small-text">
                {job['prune-backups'] ? job['prune-backups'].split(',').join(', ') : <span class="muted">storage's</span>}
              </td>
              <td data-label="Next run" class="nowrap">
                {job['next-run'] ? (
                  <>
                    {formatTime(job['next-run'])}
                    <div class="muted">{relativeTime(job['next-run'])}</div>
                  </>
                ) : (
                  <span class="muted">{truthy(job.enabled) ? 'never' : 'disabled'}</span>
                )}
              </td>
              <td data-label="Last run" class="nowrap">
                {last ? (
                  <button
                    type="button"
                    class="link"
                    disabled={!last.upid}
                    onClick={() => last.upid && openTask(last.upid, { onDone: jobs.reload })}
                    title={last.upid ? 'Show the task log' : undefined}
                    data-testid="job-last-run"
                  >
                    <ResultBadge status={running ? undefined : (last.status ?? undefined)} /> {last.time !== undefined ? formatTime(last.time) : ''}
                  </button>
                ) : (
                  <span class="muted">not yet</span>
                )}
              </td>
              <td data-label="Comment" class="comment-cell">
                {job.comment}
              </td>
              {mayModify && (
                <td data-label="" class="nowrap">
                  <span class="row-actions">
                    <button type="button" class="small" onClick={() => setEditing({ job })} data-testid="job-edit">
                      Edit
                    </button>
                    <button type="button" class="small" disabled={running} onClick={() => void runNow(job)} data-testid="job-run-now">
                      Run now
                    </button>
                    <button type="button" class="small danger" onClick={() => setDeleting(job)} data-testid="job-delete">
                      Delete
                    </button>
                  </span>
                </td>
              )}
            </tr>
          );
        })}
        {jobs.data && jobs.data.length === 0 && <MessageRow colSpan={10}>No backup jobs yet.</MessageRow>}
        {jobs.loading && !jobs.data && <MessageRow colSpan={10}>Loading…</MessageRow>}
      </DataTable>

      {editing && (
        <JobDialog
          job={editing.job}
          guests={guests.data ?? []}
          storages={storages.data ?? []}
          onClose={() => setEditing(undefined)}
          onSaved={() => {
            setEditing(undefined);
            jobs.reload();
          }}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title="Delete backup job"
          confirmLabel="Delete"
          danger
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await api<null>('DELETE', `/cluster/backup/${seg(deleting.id)}`);
            jobs.reload();
          }}
        >
          <p>
            Delete the job <strong>{deleting.id}</strong> ({deleting.schedule}, {selectionText(deleting)})? Its backups stay.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
