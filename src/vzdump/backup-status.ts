/**
 * The result of each guest's last backup (time, ok or the error, where it went, the task), so the
 * dashboard can say "last backup failed" even when no new backup exists to show it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';
import { guestvaultHome } from '../home.js';

export interface BackupStatus {
  /** Epoch seconds of the end of the attempt. */
  time: number;
  ok: boolean;
  error?: string;
  /** The storage (or dump directory) it went to. */
  storage: string;
  /** The new backup (`<storage>:backup/…`, or the archive path), when it worked. */
  volid?: string;
  upid: string;
}

function statusFile(type: string, id: string): string {
  return join(guestvaultHome(), 'run', 'backup-status', `${type}-${id}.json`);
}

export function recordBackupStatus(type: string, id: string, status: BackupStatus): void {
  writeFileAtomic(statusFile(type, id), `${JSON.stringify(status)}\n`);
}

export function readBackupStatus(type: string, id: string): BackupStatus | undefined {
  try {
    return JSON.parse(readFileSync(statusFile(type, id), 'utf8')) as BackupStatus;
  } catch {
    return undefined;
  }
}
