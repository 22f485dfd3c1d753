interface FormActionsProps {
  onCancel: () => void;
  /** The submit button's words, and its words while the form is busy. */
  label: string;
  busyLabel: string;
  busy: boolean;
  /** Also disabled when this is true (the form is not ready). */
  disabled?: boolean;
  testId: string;
  /** Across both columns of a two-column form. */
  span?: boolean;
}

/** A dialog form's Cancel and submit buttons. */
export function FormActions({ onCancel, label, busyLabel, busy, disabled, testId, span }: FormActionsProps) {
  return (
    <div class={span ? 'form-actions span-2' : 'form-actions'}>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
      <button type="submit" class="primary" disabled={busy || disabled === true} data-testid={testId}>
        {busy ? busyLabel : label}
      </button>
    </div>
  );
}
