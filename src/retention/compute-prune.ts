import { GuestvaultError } from '../errors.js';
import { isKeepAll, KEEP_COUNT_OPTIONS, validateKeepOptions, type KeepCountOption, type KeepOptions } from './keep-options.js';
import { localParts, PERIOD_KIND, periodIdOf, type PeriodKind } from './periods.js';

/** One backup (snapshot) of a group. `finished` false = no manifest yet (PBS); default true. */
export type PruneItem = { 'backup-time': number; protected?: boolean; finished?: boolean };

export type PruneMark = 'keep' | 'remove' | 'protected' | 'keep-partial';

export type PruneDecision = { 'backup-time': number; mark: PruneMark; reason: string };

/*
 * Reason formats (stable; times are local, YYYY-MM-DDTHH:MM:SS; period ids as in periods.ts):
 *   keep          "<option> <slot>/<quota> (<period id>)"        e.g. "keep-daily 2/3 (2026-11-25)"
 *                 (keep-last's period id is the backup's own local time)
 *                 "keep-all"                                      keep-all=1 was given
 *                 "no keep option set: everything is kept"        no count is positive
 *   protected     "protected"
 *   keep-partial  "newest snapshot is unfinished: a backup may be running"
 *   remove        "unfinished (no manifest)"                      an older unfinished snapshot
 *                 "superseded in its <kind> <period id> by <time>"
 *                     a newer backup of the same period was kept by that option; kind is one of
 *                     hour, day, ISO week, month, year; e.g.
 *                     "superseded in its day 2026-11-25 by 2026-11-25T23:00:00"
 *                 "beyond <option> <quota>[; <kind> <period id> already kept by <time> (<option>)]…"
 *                     <option> is the last option whose quota was used up before this backup;
 *                     each later option skipped it because an earlier option already kept a
 *                     backup of its period; e.g. "beyond keep-weekly 2; month 2024-02 already
 *                     kept by 2024-02-25T02:00:00 (keep-weekly)"
 *                 "not kept by any option"                        fallback (not reached by the algorithm)
 */

type Decided = { mark: PruneMark; reason: string; option?: KeepCountOption };
type Covered = { kind: PeriodKind; id: string; keeper: number };
type Fate = { beyond?: { option: KeepCountOption; quota: number }; covered: Covered[] };

function checkItems(items: readonly PruneItem[]): void {
  items.forEach((item, index) => {
    const t = item['backup-time'];
    if (typeof t !== 'number' || !Number.isFinite(t)) {
      throw new GuestvaultError('E_INPUT_INVALID', `prune item ${index}: backup-time must be a number of seconds since the epoch, got ${String(t)}`);
    }
  });
}

/**
 * Mark the backups of ONE group the way Proxmox VE (prune_mark_backup_group) and Proxmox Backup
 * Server (compute_prune_info) do; see the reference §6.2:
 *  - protected backups (unfinished ones too) are marked 'protected': never removed, never counted,
 *    never cover a period;
 *  - (PBS) when the newest backup is unfinished it is 'keep-partial'; other unfinished ones are removed;
 *  - keep-last, -hourly, -daily, -weekly, -monthly, -yearly in that order each keep the newest
 *    backup of the N most recent local periods that contain still unmarked backups, skipping periods
 *    that an earlier option already kept (those do not use up the quota); the other backups of a
 *    newly kept period are removed at once;
 *  - everything left unmarked is removed. With keep-all or no positive option everything is kept.
 * Returns one decision per item, newest first (equal times keep their input order). Pure: periods
 * use the process's local time zone (TZ).
 */
export function computePrune(items: readonly PruneItem[], keep: KeepOptions): PruneDecision[] {
  const opts = validateKeepOptions(keep);
  checkItems(items);
  const list = [...items].sort((a, b) => b['backup-time'] - a['backup-time']);
  const marks: (Decided | undefined)[] = list.map((item) => (item.protected === true ? { mark: 'protected', reason: 'protected' } : undefined));

  if (isKeepAll(opts)) {
    const reason = opts['keep-all'] === true ? 'keep-all' : 'no keep option set: everything is kept';
    return list.map((item, i) => ({ 'backup-time': item['backup-time'], ...(marks[i] ?? { mark: 'keep', reason }) }));
  }

  list.forEach((item, i) => {
    if (marks[i] || item.finished !== false) return;
    marks[i] = i === 0
      ? { mark: 'keep-partial', reason: 'newest snapshot is unfinished: a backup may be running' }
      : { mark: 'remove', reason: 'unfinished (no manifest)' };
  });

  const fates: Fate[] = list.map(() => ({ covered: [] }));
  const parts = list.map((item) => localParts(item['backup-time']));
  const stamp = (i: number) => periodIdOf('backup', parts[i]!); // local time, as in formatLocalTime
  for (const option of KEEP_COUNT_OPTIONS) {
    const quota = opts[option] ?? 0;
    if (quota <= 0) continue;
    const kind = PERIOD_KIND[option];
    // keep-last: every backup is its own period (unique even when two share a time).
    const ids = parts.map((p, i) => (option === 'keep-last' ? String(i) : periodIdOf(kind, p)));
    const idOf = (i: number) => ids[i]!;
    const shown = (i: number) => (option === 'keep-last' ? stamp(i) : idOf(i));

    const already = new Map<string, number>(); // period id → newest backup kept by an earlier option
    marks.forEach((m, i) => {
      if (m?.mark === 'keep' && !already.has(idOf(i))) already.set(idOf(i), i);
    });
    const fresh = new Map<string, number>(); // period id → backup kept by this option
    let stop = list.length;
    for (let i = 0; i < list.length; i++) {
      if (marks[i]) continue;
      const id = idOf(i);
      if (already.has(id)) continue;
      const keeper = fresh.get(id);
      if (keeper === undefined) {
        if (fresh.size >= quota) {
          stop = i;
          break;
        }
        fresh.set(id, i);
        marks[i] = { mark: 'keep', reason: `${option} ${fresh.size}/${quota} (${shown(i)})`, option };
      } else {
        marks[i] = { mark: 'remove', reason: `superseded in its ${kind} ${id} by ${stamp(keeper)}` };
      }
    }
    // Remember why the backups this option did not mark stayed unmarked.
    for (let i = 0; i < list.length; i++) {
      if (marks[i]) continue;
      const keeper = already.get(idOf(i));
      if (keeper !== undefined) fates[i]!.covered.push({ kind, id: idOf(i), keeper });
      else if (i >= stop) fates[i] = { beyond: { option, quota }, covered: [] };
    }
  }

  return list.map((item, i) => {
    const m = marks[i] ?? { mark: 'remove', reason: unmarkedReason(fates[i]!, marks, stamp) };
    return { 'backup-time': item['backup-time'], mark: m.mark, reason: m.reason };
  });
}

function unmarkedReason(fate: Fate, marks: readonly (Decided | undefined)[], stamp: (i: number) => string): string {
  if (!fate.beyond) return 'not kept by any option';
  const covered = fate.covered.map((c) => `; ${c.kind} ${c.id} already kept by ${stamp(c.keeper)} (${marks[c.keeper]?.option ?? 'keep'})`);
  return `beyond ${fate.beyond.option} ${fate.beyond.quota}${covered.join('')}`;
}
