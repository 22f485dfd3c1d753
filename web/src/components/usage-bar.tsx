import { formatBytes } from '../format';

/** Used of total as a bar with the numbers; amber from 80 %, red from 90 %. */
export function UsageBar({ used, total }: { used: number | undefined; total: number | undefined }) {
  if (used === undefined || total === undefined || total <= 0) return <span class="muted">n/a</span>;
  const pct = Math.min(100, (used / total) * 100);
  const level = pct >= 90 ? 'high' : pct >= 80 ? 'mid' : 'low';
  return (
    <div class="usage" title={`${formatBytes(used)} of ${formatBytes(total)} used`}>
      <div class="usage-track" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)}>
        <div class={`usage-fill usage-${level}`} style={{ width: `${pct}%` }} />
      </div>
      <span class="usage-text">
        {pct.toFixed(1)} % ({formatBytes(used)} of {formatBytes(total)})
      </span>
    </div>
  );
}
