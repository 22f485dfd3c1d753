import { useState } from 'preact/hooks';
import { errorText } from '../api';
import { Dialog } from '../components/dialog';
import { ErrorMessage } from '../components/error-message';

interface NotesProps {
  volid: string;
  notes: string;
  onSave: (notes: string) => Promise<void>;
  onClose: () => void;
}

export function NotesDialog({ volid, notes, onSave, onClose }: NotesProps) {
  const [text, setText] = useState(notes);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await onSave(text);
      onClose();
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };

  return (
    <Dialog title="Edit notes" onClose={onClose} testId="notes-dialog">
      <form class="form" onSubmit={(e) => void submit(e)}>
        <p class="muted break">{volid}</p>
        <label>
          Notes
          <textarea rows={5} value={text} onInput={(e) => setText(e.currentTarget.value)} data-testid="notes-input" />
        </label>
        <ErrorMessage error={error} />
        <div class="form-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy} data-testid="notes-submit">
            {busy ? 'Saving…' : 'Save'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
