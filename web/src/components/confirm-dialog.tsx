import type { ComponentChildren } from 'preact';
import { useSubmit } from '../use-submit';
import { Dialog } from './dialog';
import { ErrorMessage } from './error-message';

interface ConfirmProps {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  /** The action; its error is shown in the dialog, which stays open. */
  onConfirm: () => Promise<void>;
  onClose: () => void;
}

export function ConfirmDialog({ title, children, confirmLabel, danger, onConfirm, onClose }: ConfirmProps) {
  const { busy, error, run } = useSubmit();
  const confirm = () =>
    run(async () => {
      await onConfirm();
      onClose();
    });

  return (
    <Dialog
      title={title}
      onClose={onClose}
      testId="confirm-dialog"
      footer={
        <>
          <button type="button" onClick={onClose} data-testid="confirm-cancel">
            Cancel
          </button>
          <button type="button" class={danger ? 'danger' : 'primary'} disabled={busy} onClick={() => void confirm()} data-testid="confirm-ok">
            {busy ? 'Working…' : confirmLabel}
          </button>
        </>
      }
    >
      {children}
      <ErrorMessage error={error} />
    </Dialog>
  );
}
