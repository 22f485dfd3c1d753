/** How numbers, times and results are written on screen. */

const pad = (n: number) => String(n).padStart(2, '0');

/** Local time as Proxmox shows it: 2026-11-27 23:00:05. */
export function formatTime(epochSeconds: number | undefined): string {
  if (epochSeconds === undefined || !Number.isFinite(epochSeconds)) return '';
  const d = new Date(epochSeconds * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local time with the weekday, for schedules: Fri 2026-11-27 23:00. */
export function formatRun(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  const day = d.toLocaleDateString(undefined, { weekday: 'short' });
  return `${day} ${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "3 h ago" / "in 5 min", for the dashboard. */
export function relativeTime(epochSeconds: number, now = Date.now() / 1000): string {
  const diff = epochSeconds - now;
  const abs = Math.abs(diff);
  let text: string;
  if (abs < 60) text = `${Math.round(abs)} s`;
  else if (abs < 3600) text = `${Math.round(abs / 60)} min`;
  else if (abs < 86400 * 2) text = `${Math.round(abs / 3600)} h`;
  else text = `${Math.round(abs / 86400)} days`;
  return diff < 0 ? `${text} ago` : `in ${text}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '';
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${UNITS[u]}`;
}

export type ResultKind = 'ok' | 'warn' | 'error' | 'running';

/** OK, WARNINGS: N, or an error text (as task lists and exit statuses write them). */
export function resultKind(status: string | undefined): ResultKind {
  if (status === undefined || status === '' || status === 'running') return 'running';
  if (status === 'OK') return 'ok';
  if (status.startsWith('WARNINGS')) return 'warn';
  return 'error';
}

/** A list field that may come as "100,101", ["100","101"] or 100. */
export function idList(v: string | string[] | number | undefined): string[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v.map(String);
  return String(v).split(/[,;\s]+/).filter(Boolean);
}

/** Proxmox booleans arrive as true/false or 1/0. */
export const truthy = (v: boolean | number | string | undefined): boolean => v === true || v === 1 || v === '1';

/** The VMID of a volid's guest, from the entry or its name (vm/100/…, vzdump-qemu-100-…). */
export function vmidOf(e: { vmid?: string | number; volid: string }): string {
  if (e.vmid !== undefined && e.vmid !== '') return String(e.vmid);
  const m = /(?:vm|ct)\/(\d+)\/|vzdump-(?:qemu|lxc)-(\d+)-/.exec(e.volid);
  return m ? (m[1] ?? m[2] ?? '') : '';
}

/** A guest's state as its list and page show it: "running", or "running (paused)" when QEMU says more. */
export function guestState(g: { status: string; qmpstatus?: string | null }): string {
  return g.qmpstatus && g.qmpstatus !== g.status ? `${g.status} (${g.qmpstatus})` : g.status;
}
