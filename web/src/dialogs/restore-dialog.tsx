import { useEffect, useState } from 'preact/hooks';
import { api, get, seg } from '../api';
import { Dialog } from '../components/dialog';
import { ErrorMessage } from '../components/error-message';
import { FormActions } from '../components/form-actions';
import { StorageOptions } from '../components/storage-options';
import { useApp } from '../context';
import { freeVmid, hasContent } from '../data';
import { formatTime, vmidOf } from '../format';
import type { ContentEntry, GuestEntry, StorageEntry } from '../types';
import { useSubmit } from '../use-submit';

interface RestoreProps {
  backup: ContentEntry;
  guests: readonly GuestEntry[];
  storages: readonly StorageEntry[];
  onClose: () => void;
  onStarted: (upid: string) => void;
}

const VMID_RE = /^[1-9][0-9]{2,8}$/;

export function RestoreDialog({ backup, guests, storages, onClose, onStarted }: RestoreProps) {
  const { node } = useApp();
  const sourceVmid = vmidOf(backup);
  const [free, setFree] = useState(freeVmid(guests));
  const [vmid, setVmid] = useState(free);
  // The server knows every guest, also those this user may not see.
  useEffect(() => {
    get<string>('/cluster/nextid').then((id) => {
      setFree(id);
      setVmid((v) => (v === free ? id : v));
    }, () => undefined);
  }, []);
  const [force, setForce] = useState(false);
  const [storage, setStorage] = useState('');
  const form = useSubmit();

  const diskStorages = storages.filter((s) => hasContent(s, 'images') && s.status === 'active');
  const exists = guests.some((g) => String(g.vmid) === vmid.trim());
  const running = guests.find((g) => String(g.vmid) === vmid.trim())?.status === 'running';
  let vmidError: string | undefined;
  if (!VMID_RE.test(vmid.trim())) vmidError = 'A VMID is a number from 100 to 999999999.';
  else if (exists && !force) vmidError = `Guest ${vmid.trim()} exists: choose another VMID, or tick "overwrite" to replace it.`;

  const toggleForce = (on: boolean) => {
    setForce(on);
    if (on && sourceVmid) setVmid(sourceVmid);
    if (!on && vmid === sourceVmid) setVmid(free);
  };

  const submit = (e: Event) => {
    e.preventDefault();
    if (vmidError) return;
    void form.run(async () => {
      const body: Record<string, string | boolean> = { vmid: vmid.trim(), archive: backup.volid };
      if (storage) body.storage = storage;
      if (force) body.force = true;
      onStarted(await api<string>('POST', `/nodes/${seg(node)}/qemu`, body));
    });
  };

  return (
    <Dialog title="Restore backup" onClose={onClose} testId="restore-dialog">
      <form class="form" onSubmit={submit}>
        <p class="restore-source">
          <strong>{backup.volid}</strong>
          <br />
          <span class="muted">
            guest {sourceVmid || '?'}
            {backup.ctime !== undefined ? `, ${formatTime(backup.ctime)}` : ''}
          </span>
        </p>
        <label>
          Target VMID
          <input
            type="text"
            inputMode="numeric"
            value={vmid}
            onInput={(e) => setVmid(e.currentTarget.value)}
            aria-invalid={vmidError ? 'true' : undefined}
            data-testid="restore-vmid"
          />
          {vmidError && (
            <span class="field-error error-message" data-testid="restore-vmid-error">
              {vmidError}
            </span>
          )}
        </label>
        <label class="check">
          <input type="checkbox" checked={force} onChange={(e) => toggleForce(e.currentTarget.checked)} data-testid="restore-force" />
          Overwrite the existing guest {sourceVmid ? `(VMID ${force ? vmid : sourceVmid})` : ''} — force
        </label>
        {force && exists && (
          <div class="warn-message">
            Guest {vmid}'s configuration and disks are replaced by the backup's.{running ? ' It is running: stop it first.' : ''}
          </div>
        )}
        <label>
          Target storage for disks
          <select value={storage} onChange={(e) => setStorage(e.currentTarget.value)} data-testid="restore-storage">
            <option value="">As in the backup's configuration</option>
            <StorageOptions storages={diskStorages} />
          </select>
        </label>
        <ErrorMessage error={form.error} />
        <FormActions onCancel={onClose} busy={form.busy} disabled={vmidError !== undefined} busyLabel="Starting…" label="Restore" testId="restore-submit" />
      </form>
    </Dialog>
  );
}
