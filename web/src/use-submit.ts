import { useState } from 'preact/hooks';
import { errorText } from './api';

export interface Submit {
  busy: boolean;
  error: string | undefined;
  setError: (error: string | undefined) => void;
  /** Run the action: busy meanwhile, the error in words when it fails (busy stays on success: the dialog closes or the page changes). */
  run: (action: () => Promise<void>) => Promise<void>;
}

/** The state of a form's (or a dialog's) one action. */
export function useSubmit(initialError?: string): Submit {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(initialError);
  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}
