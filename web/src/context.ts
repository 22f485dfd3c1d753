import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Permissions, TaskStatus } from './types';

export interface OpenTaskOptions {
  /** Called once when the task has stopped (with its final status), e.g. to reload a list. */
  onDone?: (status: TaskStatus) => void;
}

export interface AppState {
  node: string;
  username: string;
  perms: Permissions;
  /** Show the task viewer for a UPID (it follows the task live). */
  openTask: (upid: string, opts?: OpenTaskOptions) => void;
  /** Exact check for existing objects (see permissions.ts). */
  can: (path: string, priv: string) => boolean;
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const ctx = useContext(AppContext);
  if (!ctx) throw new Error('useApp outside the logged-in app');
  return ctx;
}
