import { useState } from 'preact/hooks';
import { formatKeepOptions, KEEP_COUNT_OPTIONS, parseKeepOptions, type KeepCountOption } from '../../../src/retention/keep-options.js';
import { api, errorText, seg } from '../api';
import { Dialog } from '../components/dialog';
import { ErrorMessage } from '../components/error-message';
import { FormActions } from '../components/form-actions';
import { SchedulePreview, useScheduleAnalysis } from '../components/schedule-preview';
import { useApp } from '../context';
import { hasContent } from '../data';
import { idList, truthy } from '../format';
import { keepOptionsOf, type KeepFields } from '../keep-fields';
import { KEEP_LABEL } from '../keep-labels';
import type { BackupJob, GuestEntry, StorageEntry } from '../types';
import { useSubmit } from '../use-submit';

type Selection = 'all' | 'include' | 'exclude';
type Mode = 'snapshot' | 'suspend' | 'stop';

interface JobDialogProps {
  /** Undefined: a new job. */
  job?: BackupJob;
  guests: readonly GuestEntry[];
  storages: readonly StorageEntry[];
  onClose: () => void;
  onSaved: () => void;
}

const JOB_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/;
const SCHEDULE_EXAMPLES = ['daily', 'weekly', 'hourly', 'mon..fri 23:00', 'sat 02:00', '*/4:00', '21:00', 'mon,wed,fri 01:30', 'monthly'];
/** Optional keys a PUT removes with `delete` when the form leaves them empty. */
const OPTIONAL_KEYS = ['vmid', 'all', 'exclude', 'node', 'compress', 'prune-backups', 'notes-template', 'comment'] as const;

function keepFromJob(text: string | undefined): { keep: KeepFields; keepAll: boolean; error?: string } {
  const keep = Object.fromEntries(KEEP_COUNT_OPTIONS.map((o) => [o, ''])) as KeepFields;
  if (!text) return { keep, keepAll: false };
  try {
    const parsed = parseKeepOptions(text);
    for (const o of KEEP_COUNT_OPTIONS) if (parsed[o]) keep[o] = String(parsed[o]);
    return { keep, keepAll: parsed['keep-all'] === true };
  } catch (err) {
    return { keep, keepAll: false, error: `The job's retention "${text}" cannot be read: ${errorText(err)}` };
  }
}

/** The form's counts as a prune-backups string; throws with a message naming the bad field. */
function pruneString(keep: KeepFields, keepAll: boolean): string {
  if (keepAll) return 'keep-all=1';
  return formatKeepOptions(keepOptionsOf(keep));
}

export function JobDialog({ job, guests, storages, onClose, onSaved }: JobDialogProps) {
  const { node } = useApp();
  const creating = job === undefined;
  const backupStorages = storages.filter((s) => hasContent(s, 'backup'));
  const storageIds = backupStorages.map((s) => s.storage);
  if (job?.storage && !storageIds.includes(job.storage)) storageIds.push(job.storage);

  const initialKeep = keepFromJob(job?.['prune-backups']);
  const [id, setId] = useState('');
  const [schedule, setSchedule] = useState(job?.schedule ?? '21:00');
  const [selection, setSelection] = useState<Selection>(job ? (truthy(job.all) ? (idList(job.exclude).length ? 'exclude' : 'all') : 'include') : 'all');
  const [picked, setPicked] = useState<Set<string>>(() => new Set(job ? (truthy(job.all) ? idList(job.exclude) : idList(job.vmid)) : []));
  const [jobNode, setJobNode] = useState(job?.node ?? '');
  // Empty until the user picks one: the storages may arrive after the dialog opened.
  const [storageChoice, setStorage] = useState(job?.storage ?? '');
  const storage = storageChoice || ((backupStorages.find((s) => s.type === 'datastore') ?? backupStorages[0])?.storage ?? '');
  const [mode, setMode] = useState<Mode>(job?.mode ?? 'snapshot');
  const [compress, setCompress] = useState(job?.compress ?? '');
  const [keep, setKeep] = useState<KeepFields>(initialKeep.keep);
  const [keepAll, setKeepAll] = useState(initialKeep.keepAll);
  const [notes, setNotes] = useState(job?.['notes-template'] ?? '{{guestname}}');
  const [enabled, setEnabled] = useState(job ? truthy(job.enabled) : true);
  const [repeatMissed, setRepeatMissed] = useState(job ? truthy(job['repeat-missed']) : false);
  const [comment, setComment] = useState(job?.comment ?? '');
  const form = useSubmit(initialKeep.error);
  const analysis = useScheduleAnalysis(schedule);

  const idError = creating && id.trim() !== '' && !JOB_ID_RE.test(id.trim()) ? 'Up to 50 letters, digits, ".", "_" or "-", starting with a letter or digit.' : undefined;
  const selectionError = selection !== 'all' && picked.size === 0 ? (selection === 'include' ? 'Tick at least one guest.' : 'Tick the guests to leave out (or choose "all guests").') : undefined;
  let keepError: string | undefined;
  let prune = '';
  try {
    prune = pruneString(keep, keepAll);
  } catch (err) {
    keepError = errorText(err);
  }

  const toggleGuest = (vmid: string, on: boolean) => {
    const next = new Set(picked);
    if (on) next.add(vmid);
    else next.delete(vmid);
    setPicked(next);
  };

  const submit = (e: Event) => {
    e.preventDefault();
    if (idError || selectionError || keepError) {
      form.setError(idError ?? selectionError ?? keepError);
      return;
    }
    if (analysis.state === 'error') {
      form.setError(`Schedule: ${analysis.message}`);
      return;
    }
    const body: Record<string, string | boolean> = { schedule: schedule.trim(), enabled, 'repeat-missed': repeatMissed, mode };
    if (storage) body.storage = storage;
    const ids = [...picked].sort((a, b) => Number(a) - Number(b)).join(',');
    if (selection === 'include') body.vmid = ids;
    else body.all = true;
    if (selection === 'exclude') body.exclude = ids;
    if (jobNode) body.node = jobNode;
    if (compress) body.compress = compress;
    if (prune) body['prune-backups'] = prune;
    if (notes.trim()) body['notes-template'] = notes;
    if (comment.trim()) body.comment = comment.trim();

    void form.run(async () => {
      if (creating) {
        if (id.trim()) body.id = id.trim();
        await api<BackupJob>('POST', '/cluster/backup', body);
      } else {
        const remove = OPTIONAL_KEYS.filter((k) => body[k] === undefined && job[k] !== undefined && job[k] !== null && job[k] !== '');
        if (remove.length) body.delete = remove.join(',');
        await api<BackupJob>('PUT', `/cluster/backup/${seg(job.id)}`, body);
      }
      onSaved();
    });
  };

  const setKeepValue = (o: KeepCountOption, v: string) => setKeep({ ...keep, [o]: v });

  return (
    <Dialog title={creating ? 'Create backup job' : `Edit backup job ${job.id}`} onClose={onClose} testId="job-dialog" wide>
      <form class="form form-2col" onSubmit={submit}>
        {creating && (
          <label>
            ID
            <input type="text" value={id} placeholder="generated when empty" onInput={(e) => setId(e.currentTarget.value)} data-testid="job-id" />
            {idError && <span class="field-error error-message">{idError}</span>}
          </label>
        )}
        <label class="span-2">
          Schedule
          <input type="text" list="schedule-examples" value={schedule} onInput={(e) => setSchedule(e.currentTarget.value)} data-testid="job-schedule" aria-invalid={analysis.state === 'error' ? 'true' : undefined} />
          <datalist id="schedule-examples">
            {SCHEDULE_EXAMPLES.map((x) => (
              <option key={x} value={x} />
            ))}
          </datalist>
          <SchedulePreview analysis={analysis} />
        </label>

        <fieldset class="span-2">
          <legend>Guests</legend>
          <div class="radio-row">
            <label class="check">
              <input type="radio" name="job-selection" checked={selection === 'all'} onChange={() => setSelection('all')} data-testid="job-selection-all" />
              All guests
            </label>
            <label class="check">
              <input type="radio" name="job-selection" checked={selection === 'include'} onChange={() => setSelection('include')} data-testid="job-selection-include" />
              Selected guests
            </label>
            <label class="check">
              <input type="radio" name="job-selection" checked={selection === 'exclude'} onChange={() => setSelection('exclude')} data-testid="job-selection-exclude" />
              All except selected
            </label>
          </div>
          {selection !== 'all' && (
            <div class="guest-picks">
              {guests.map((g) => (
                <label class="check" key={g.vmid}>
                  <input type="checkbox" checked={picked.has(String(g.vmid))} onChange={(e) => toggleGuest(String(g.vmid), e.currentTarget.checked)} data-testid={`job-guest-${g.vmid}`} />
                  {g.vmid} {g.name ? <span class="muted">{g.name}</span> : null}
                </label>
              ))}
              {guests.length === 0 && <span class="muted">No guests to choose from.</span>}
            </div>
          )}
          {selectionError && (
            <span class="field-error error-message" data-testid="job-selection-error">
              {selectionError}
            </span>
          )}
        </fieldset>

        <label>
          Node
          <select value={jobNode} onChange={(e) => setJobNode(e.currentTarget.value)} data-testid="job-node">
            <option value="">any node</option>
            <option value={node}>{node}</option>
            {jobNode && jobNode !== node && <option value={jobNode}>{jobNode}</option>}
          </select>
        </label>
        <label>
          Storage
          <select value={storage} onChange={(e) => setStorage(e.currentTarget.value)} data-testid="job-storage">
            {storageIds.length === 0 && <option value="">no backup storage</option>}
            {storageIds.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Mode
          <select value={mode} onChange={(e) => setMode(e.currentTarget.value as Mode)} data-testid="job-mode">
            <option value="snapshot">Snapshot</option>
            <option value="suspend">Suspend</option>
            <option value="stop">Stop</option>
          </select>
        </label>
        <label>
          Compression
          <select value={compress} onChange={(e) => setCompress(e.currentTarget.value)} data-testid="job-compress">
            <option value="">default</option>
            <option value="0">none</option>
            <option value="zstd">ZSTD</option>
            <option value="gzip">GZIP</option>
            <option value="lzo">LZO</option>
          </select>
          <span class="hint">For archive (dir/NFS) storages; datastores ignore it.</span>
        </label>

        <fieldset class="span-2">
          <legend>Retention</legend>
          <div class="keep-grid">
            {KEEP_COUNT_OPTIONS.map((o) => (
              <label key={o}>
                {KEEP_LABEL[o]}
                <input type="number" min={0} step={1} value={keep[o]} disabled={keepAll} placeholder="–" onInput={(e) => setKeepValue(o, e.currentTarget.value)} data-testid={`job-${o}`} />
              </label>
            ))}
          </div>
          <label class="check">
            <input type="checkbox" checked={keepAll} onChange={(e) => setKeepAll(e.currentTarget.checked)} data-testid="job-keep-all" />
            Keep all backups
          </label>
          {keepError ? (
            <span class="field-error error-message">{keepError}</span>
          ) : (
            <span class="hint" data-testid="job-prune-backups">
              {prune ? `prune-backups: ${prune}` : "No retention here: the storage's own retention applies."}
            </span>
          )}
        </fieldset>

        <label class="span-2">
          Notes template
          <input type="text" value={notes} onInput={(e) => setNotes(e.currentTarget.value)} data-testid="job-notes" />
          <span class="hint">{'{{guestname}}, {{vmid}}, {{node}}, {{cluster}}'} are replaced.</span>
        </label>
        <label class="check">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} data-testid="job-enabled" />
          Enabled
        </label>
        <label class="check">
          <input type="checkbox" checked={repeatMissed} onChange={(e) => setRepeatMissed(e.currentTarget.checked)} data-testid="job-repeat-missed" />
          Repeat missed runs (after downtime)
        </label>
        <label class="span-2">
          Comment
          <input type="text" value={comment} onInput={(e) => setComment(e.currentTarget.value)} data-testid="job-comment" />
        </label>

        <div class="span-2">
          <ErrorMessage error={form.error} />
        </div>
        <FormActions span onCancel={onClose} busy={form.busy} busyLabel="Saving…" label={creating ? 'Create' : 'Save'} testId="job-submit" />
      </form>
    </Dialog>
  );
}
