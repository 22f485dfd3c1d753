import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, apiUrl, errorText, seg } from '../api';
import { useApp } from '../context';
import { NotesDialog } from '../dialogs/notes-dialog';
import { RestoreDialog } from '../dialogs/restore-dialog';
import { truthy } from '../format';
import { hasPrivAnywhere } from '../permissions';
import type { ContentEntry, GuestEntry, StorageEntry } from '../types';
import { ConfirmDialog } from './confirm-dialog';

type Pending = { kind: 'notes' | 'delete' | 'restore'; entry: ContentEntry; storage: string } | undefined;

interface Options {
  guests: readonly GuestEntry[];
  storages: readonly StorageEntry[];
  /** Called after a change, to reload the list. */
  changed: () => void;
}

export interface BackupActions {
  /** The buttons of one backup on the given storage. */
  buttons: (entry: ContentEntry, storage: string) => ComponentChildren;
  /** The open dialog, if any; render it once. */
  dialogs: ComponentChildren;
  /** The last failed row action, in words. */
  error: string | undefined;
  clearError: () => void;
}

const isArchive = (e: ContentEntry) => !e.format.startsWith('pbs-');

/** Notes, protection, removal, restore and download of backups, shared by the storage and guest pages. */
export function useBackupActions({ guests, storages, changed }: Options): BackupActions {
  const { node, can, perms, openTask } = useApp();
  const [pending, setPending] = useState<Pending>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState<string>();

  const contentPath = (storage: string, volid: string) => `/nodes/${seg(node)}/storage/${seg(storage)}/content/${seg(volid)}`;

  const toggleProtect = async (entry: ContentEntry, storage: string) => {
    setBusy(entry.volid);
    setError(undefined);
    try {
      await api<null>('PUT', contentPath(storage, entry.volid), { protected: !truthy(entry.protected) });
      changed();
    } catch (err) {
      setError(`${entry.volid}: ${errorText(err)}`);
    } finally {
      setBusy(undefined);
    }
  };

  const buttons = (entry: ContentEntry, storage: string) => {
    const modify = can(`/storage/${storage}`, 'Datastore.Modify');
    const read = can(`/storage/${storage}`, 'Datastore.Read');
    const mayRestore = read && hasPrivAnywhere(perms, '/vms', 'VM.Allocate');
    const prot = truthy(entry.protected);
    return (
      <span class="row-actions">
        {mayRestore && (
          <button type="button" class="small" onClick={() => setPending({ kind: 'restore', entry, storage })} data-testid="restore-button">
            Restore
          </button>
        )}
        {modify && (
          <button type="button" class="small" onClick={() => setPending({ kind: 'notes', entry, storage })} data-testid="notes-button">
            Notes
          </button>
        )}
        {modify && (
          <button type="button" class="small" disabled={busy === entry.volid} onClick={() => void toggleProtect(entry, storage)} data-testid="protect-button">
            {prot ? 'Unprotect' : 'Protect'}
          </button>
        )}
        {modify && (
          <button
            type="button"
            class="small danger"
            disabled={prot}
            title={prot ? 'Protected: unprotect it first' : undefined}
            onClick={() => setPending({ kind: 'delete', entry, storage })}
            data-testid="delete-button"
          >
            Delete
          </button>
        )}
        {read && isArchive(entry) && (
          <a class="button small" href={apiUrl(`/nodes/${seg(node)}/storage/${seg(storage)}/download`, { volume: entry.volid })} download data-testid="download-link">
            Download
          </a>
        )}
      </span>
    );
  };

  let dialogs: ComponentChildren = null;
  const close = () => setPending(undefined);
  if (pending?.kind === 'notes') {
    const { entry, storage } = pending;
    dialogs = (
      <NotesDialog
        volid={entry.volid}
        notes={entry.notes ?? ''}
        onClose={close}
        onSave={async (notes) => {
          await api<null>('PUT', contentPath(storage, entry.volid), { notes });
          changed();
        }}
      />
    );
  } else if (pending?.kind === 'delete') {
    const { entry, storage } = pending;
    dialogs = (
      <ConfirmDialog
        title="Delete backup"
        confirmLabel="Delete"
        danger
        onClose={close}
        onConfirm={async () => {
          await api<null>('DELETE', contentPath(storage, entry.volid));
          changed();
        }}
      >
        <p>
          Delete <strong class="break">{entry.volid}</strong> for good?
        </p>
      </ConfirmDialog>
    );
  } else if (pending?.kind === 'restore') {
    dialogs = (
      <RestoreDialog
        backup={pending.entry}
        guests={guests}
        storages={storages}
        onClose={close}
        onStarted={(upid) => {
          close();
          openTask(upid, { onDone: changed });
        }}
      />
    );
  }

  return { buttons, dialogs, error, clearError: () => setError(undefined) };
}
