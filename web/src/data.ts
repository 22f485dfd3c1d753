/** Loaders shared by several pages. */
import { get, seg } from './api';
import type { GuestEntry, StorageEntry } from './types';

export const loadGuests = async (node: string): Promise<GuestEntry[]> =>
  (await get<GuestEntry[]>(`/nodes/${seg(node)}/qemu`)).sort((a, b) => Number(a.vmid) - Number(b.vmid));

export const loadStorages = async (node: string): Promise<StorageEntry[]> =>
  (await get<StorageEntry[]>(`/nodes/${seg(node)}/storage`)).sort((a, b) => a.storage.localeCompare(b.storage));

export const hasContent = (s: StorageEntry, kind: string): boolean => s.content.split(',').map((c) => c.trim()).includes(kind);

/** The lowest VMID from 100 up that no listed guest has. */
export function freeVmid(guests: readonly GuestEntry[]): string {
  const taken = new Set(guests.map((g) => Number(g.vmid)));
  let id = 100;
  while (taken.has(id)) id++;
  return String(id);
}
