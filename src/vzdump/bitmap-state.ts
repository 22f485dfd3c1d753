/**
 * What each VM's dirty bitmaps were last synced to, per target storage and disk: the checksum of
 * the index the last successful backup wrote. A bitmap is only trusted for an incremental read
 * when the target's last snapshot still has exactly that index.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { guestsDir } from '../guests/index.js';
import { writeFileAtomic } from '../atomic-file.js';

export interface BitmapRecord {
  bitmap: string;
  csum: string;
  size: number;
  snapshot: number;
}

type State = Record<string, Record<string, BitmapRecord>>;

function stateFile(vmid: string): string {
  return join(guestsDir(), `${vmid}.bitmaps.json`);
}

export function readBitmapState(vmid: string): State {
  try {
    return JSON.parse(readFileSync(stateFile(vmid), 'utf8')) as State;
  } catch {
    return {};
  }
}

export function writeBitmapRecords(vmid: string, storage: string, records: Record<string, BitmapRecord>): void {
  const state = readBitmapState(vmid);
  state[storage] = { ...state[storage], ...records };
  const file = stateFile(vmid);
  writeFileAtomic(file, JSON.stringify(state, null, 1));
}

/** Bitmap names are per target storage, so backups to two storages each stay incremental. */
export function bitmapName(storage: string): string {
  return `guestvault-${storage}`;
}
