import type { SimBackup } from '../retention-sim';

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const pad = (n: number) => String(n).padStart(2, '0');

interface Month {
  year: number;
  /** 0-11 */
  month: number;
  days: Map<number, SimBackup[]>;
}

/** Backups grouped by local month and day, newest month first, each day's backups in time order. */
function byMonth(backups: readonly SimBackup[]): Month[] {
  const months = new Map<string, Month>();
  for (const b of backups) {
    const d = new Date(b.time * 1000);
    const key = `${d.getFullYear()}-${d.getMonth()}`;
    let m = months.get(key);
    if (!m) {
      m = { year: d.getFullYear(), month: d.getMonth(), days: new Map() };
      months.set(key, m);
    }
    const list = m.days.get(d.getDate()) ?? [];
    list.push(b);
    m.days.set(d.getDate(), list);
  }
  const out = [...months.values()].sort((a, b) => b.year - a.year || b.month - a.month);
  for (const m of out) for (const list of m.days.values()) list.sort((a, b) => a.time - b.time);
  return out;
}

function localTime(t: number): string {
  const d = new Date(t * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function Chip({ b, compact }: { b: SimBackup; compact: boolean }) {
  const d = new Date(b.time * 1000);
  const hm = compact ? pad(d.getHours()) : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const label = b.mark === 'keep' ? `kept by ${b.rule ?? b.reason}` : `removed: ${b.reason}`;
  return (
    <span class={`bk bk-${b.mark}`} data-mark={b.mark} data-time={localTime(b.time)} title={`${localTime(b.time)}: ${label}`} data-testid="retention-backup">
      <span class="bk-time">{hm}</span>
      {b.mark === 'keep' && <span class="bk-rule">{b.rule}</span>}
    </span>
  );
}

/** Month grids (weeks start on Monday, as ISO weeks and keep-weekly do) with each backup marked. */
export function RetentionCalendar({ backups, compact }: { backups: readonly SimBackup[]; compact: boolean }) {
  const months = byMonth(backups);
  return (
    <div class={`calendars${compact ? ' compact' : ''}`}>
      {months.map((m) => {
        const first = new Date(m.year, m.month, 1);
        const lead = (first.getDay() + 6) % 7;
        const daysIn = new Date(m.year, m.month + 1, 0).getDate();
        const cells: (number | undefined)[] = [...Array<undefined>(lead).fill(undefined), ...Array.from({ length: daysIn }, (_, i) => i + 1)];
        const title = first.toLocaleDateString(undefined, { month: 'long', year: 'numeric' });
        return (
          <div class="calendar" key={`${m.year}-${m.month}`}>
            <h3>{title}</h3>
            <div class="cal-grid">
              {WEEKDAYS.map((w) => (
                <div class="cal-weekday" key={w}>
                  {w}
                </div>
              ))}
              {cells.map((day, i) => {
                const list = day === undefined ? undefined : m.days.get(day);
                return (
                  <div key={i} class={`cal-day${day === undefined ? ' cal-blank' : ''}${list ? ' cal-has' : ''}`}>
                    {day !== undefined && <span class="cal-num">{day}</span>}
                    {list?.map((b) => <Chip key={b.time} b={b} compact={compact} />)}
                  </div>
                );
              })}
            </div>
          </div>
        );
      })}
    </div>
  );
}
