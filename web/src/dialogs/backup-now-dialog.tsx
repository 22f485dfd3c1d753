import { useState } from 'preact/hooks';
import { api, seg } from '../api';
import { Dialog } from '../components/dialog';
import { ErrorMessage } from '../components/error-message';
import { FormActions } from '../components/form-actions';
import { StorageOptions } from '../components/storage-options';
import { useApp } from '../context';
import { hasContent } from '../data';
import type { StorageEntry } from '../types';
import { useSubmit } from '../use-submit';

interface BackupNowProps {
  vmid: string;
  storages: readonly StorageEntry[];
  onClose: () => void;
  /** The backup task started; the caller opens the task viewer. */
  onStarted: (upid: string) => void;
}

type Mode = 'snapshot' | 'suspend' | 'stop';
type Compress = '0' | 'zstd' | 'gzip' | 'lzo';

export function BackupNowDialog({ vmid, storages, onClose, onStarted }: BackupNowProps) {
  const { node, can } = useApp();
  const targets = storages.filter((s) => hasContent(s, 'backup') && s.status === 'active' && can(`/storage/${s.storage}`, 'Datastore.AllocateSpace'));
  const [storageChoice, setStorage] = useState('');
  const storage = storageChoice || ((targets.find((s) => s.type === 'datastore') ?? targets[0])?.storage ?? '');
  const [mode, setMode] = useState<Mode>('snapshot');
  const [compress, setCompress] = useState<Compress>('zstd');
  const [protect, setProtect] = useState(false);
  const [notes, setNotes] = useState('{{guestname}}');
  const form = useSubmit();

  const target = targets.find((s) => s.storage === storage);
  const isDatastore = target?.type === 'datastore';

  const submit = (e: Event) => {
    e.preventDefault();
    if (!storage) {
      form.setError('Choose a storage for the backup.');
      return;
    }
    void form.run(async () => {
      const body = { vmid, storage, mode, compress, protected: protect, 'notes-template': notes };
      const upid = await api<string>('POST', `/nodes/${seg(node)}/vzdump`, body);
      onStarted(upid);
    });
  };

  return (
    <Dialog title={`Back up guest ${vmid} now`} onClose={onClose} testId="backup-dialog">
      <form class="form" onSubmit={submit} id="backup-now-form">
        <label>
          Storage
          <select value={storage} onChange={(e) => setStorage(e.currentTarget.value)} data-testid="backup-storage">
            {targets.length === 0 && <option value="">no storage you may back up to</option>}
            <StorageOptions storages={targets} />
          </select>
        </label>
        <label>
          Mode
          <select value={mode} onChange={(e) => setMode(e.currentTarget.value as Mode)} data-testid="backup-mode">
            <option value="snapshot">Snapshot (guest keeps running)</option>
            <option value="suspend">Suspend (paused while the view is taken)</option>
            <option value="stop">Stop (shut down, back up, boot again)</option>
          </select>
        </label>
        <label>
          Compression
          <select value={compress} onChange={(e) => setCompress(e.currentTarget.value as Compress)} data-testid="backup-compress">
            <option value="0">none</option>
            <option value="zstd">ZSTD (fast and good)</option>
            <option value="gzip">GZIP</option>
            <option value="lzo">LZO</option>
          </select>
          {isDatastore && <span class="hint">Ignored by datastores: they compress and de-duplicate chunks themselves.</span>}
        </label>
        <label class="check">
          <input type="checkbox" checked={protect} onChange={(e) => setProtect(e.currentTarget.checked)} data-testid="backup-protected" />
          Protected (prune and delete leave it alone)
        </label>
        <label>
          Notes
          <input type="text" value={notes} onInput={(e) => setNotes(e.currentTarget.value)} data-testid="backup-notes" />
          <span class="hint">
            Template: {'{{guestname}}'}, {'{{vmid}}'}, {'{{node}}'}, {'{{cluster}}'} are replaced.
          </span>
        </label>
        <ErrorMessage error={form.error} />
        <FormActions onCancel={onClose} busy={form.busy} disabled={targets.length === 0} busyLabel="Starting…" label="Back up" testId="backup-submit" />
      </form>
    </Dialog>
  );
}
