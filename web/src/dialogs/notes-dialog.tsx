import { useState } from 'preact/hooks';
import { Dialog } from '../components/dialog';
import { ErrorMessage } from '../components/error-message';
import { FormActions } from '../components/form-actions';
import { useSubmit } from '../use-submit';

interface NotesProps {
  volid: string;
  notes: string;
  onSave: (notes: string) => Promise<void>;
  onClose: () => void;
}

export function NotesDialog({ volid, notes, onSave, onClose }: NotesProps) {
  const [text, setText] = useState(notes);
  const form = useSubmit();

  const submit = (e: Event) => {
    e.preventDefault();
    void form.run(async () => {
      await onSave(text);
      onClose();
    });
  };

  return (
    <Dialog title="Edit notes" onClose={onClose} testId="notes-dialog">
      <form class="form" onSubmit={submit}>
        <p class="muted break">{volid}</p>
        <label>
          Notes
          <textarea rows={5} value={text} onInput={(e) => setText(e.currentTarget.value)} data-testid="notes-input" />
        </label>
        <ErrorMessage error={form.error} />
        <FormActions onCancel={onClose} busy={form.busy} busyLabel="Saving…" label="Save" testId="notes-submit" />
      </form>
    </Dialog>
  );
}
