// Result table, speed-ups and targets of the benchmark.

const MiB = 1024 * 1024;

/** The timed steps each tool runs. */
export const STEPS_OF = {
  guestvault: ['first', 'unchanged', 'changed', 'restore'],
  restic: ['first', 'unchanged', 'reread', 'changed', 'restore'],
  borg: ['first', 'unchanged', 'reread', 'changed', 'restore'],
  zstd: ['first', 'restore'],
};

const applies = (tool, step) => STEPS_OF[tool].includes(step);

/** The rows of the main table; `step` names a timed step, `kind` says what to show. */
export const ROWS = [
  { label: 'first backup (s)', step: 'first', kind: 'seconds' },
  { label: 'unchanged backup (s)', step: 'unchanged', kind: 'seconds' },
  { label: 'unchanged, forced re-read (s) [1]', step: 'reread', kind: 'seconds' },
  { label: 'changed backup (s)', step: 'changed', kind: 'seconds' },
  { label: 'restore (s) [2]', step: 'restore', kind: 'seconds' },
  { label: 'growth, first backup (MiB) [4]', step: 'first', kind: 'growthMiB' },
  { label: 'growth, unchanged backup (bytes)', step: 'unchanged', kind: 'growth' },
  { label: 'growth, changed backup (bytes)', step: 'changed', kind: 'growth' },
  { label: 'peak RSS (MiB)', kind: 'rss' },
];

const num = (v, digits = 2) => (v == null ? '-' : v.toFixed(digits));

/** The value of a row for one tool's results (a number), or a string explaining its absence. */
export function rowValue(row, tool, r) {
  if (row.step && !applies(tool, row.step)) return 'n/a';
  if (row.kind === 'rss') {
    const rss = Object.values(r.steps).map((s) => s.rssKiB).filter((v) => v != null);
    if (rss.length === 0) return r.status === 'failed' ? 'failed' : '-';
    return Math.max(...rss) / 1024;
  }
  const s = r.steps[row.step];
  if (!s) return r.status === 'failed' ? 'failed' : '-';
  if (s.status !== 'ok') return 'failed';
  if (row.kind === 'seconds') return s.seconds;
  if (row.kind === 'growthMiB') return s.growthBytes == null ? '-' : s.growthBytes / MiB;
  if (row.kind === 'growth') return s.growthBytes ?? '-';
  return '-';
}

function formatCell(row, v) {
  if (typeof v === 'string') return v;
  if (row.kind === 'growth') return String(v);
  if (row.kind === 'rss' || row.kind === 'growthMiB') return num(v, 1);
  return num(v, 2);
}

function table(header, lines) {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

export function mainTable(tools, results) {
  const lines = ROWS.map((row) => [row.label, ...tools.map((t) => formatCell(row, rowValue(row, t, results[t])))]);
  return table(['', ...tools], lines);
}

const SPEEDUP_ROWS = [
  { label: 'first backup', step: 'first' },
  { label: 'unchanged backup', step: 'unchanged' },
  { label: 'unchanged, peer forced to re-read [1]', step: 'reread', gvStep: 'unchanged' },
  { label: 'changed backup', step: 'changed' },
  { label: 'restore [2]', step: 'restore' },
];

function seconds(results, tool, step) {
  const s = results[tool]?.steps[step];
  return s && s.status === 'ok' ? s.seconds : null;
}

/** peer time ÷ guestvault time for each row and peer: { [row]: { [peer]: number|null } }. */
export function speedups(tools, results) {
  const out = {};
  if (!tools.includes('guestvault')) return out;
  for (const row of SPEEDUP_ROWS) {
    out[row.step] = {};
    const gv = seconds(results, 'guestvault', row.gvStep ?? row.step);
    for (const peer of tools.filter((t) => t !== 'guestvault')) {
      const p = seconds(results, peer, row.step);
      out[row.step][peer] = gv && p != null ? p / gv : null;
    }
  }
  return out;
}

export function speedupTable(tools, results, ups) {
  const peers = tools.filter((t) => t !== 'guestvault');
  const lines = SPEEDUP_ROWS.map((row) => [row.label, ...peers.map((peer) => {
    const v = ups[row.step]?.[peer];
    if (v != null) return `${v.toFixed(2)}x`;
    if (!applies(peer, row.step)) return 'n/a';
    return seconds(results, 'guestvault', row.gvStep ?? row.step) == null ? 'gv failed' : `${peer} failed`;
  })]);
  return table(['peer time ÷ guestvault time', ...peers], lines);
}

/** Evaluate the targets; each { text, status: MET|NOT MET|n/a, detail }. */
export function targets(tools, results) {
  const has = (t) => tools.includes(t);
  const gvSec = (step) => seconds(results, 'guestvault', step);
  const out = [];
  const speed = (text, peer, step, min) => {
    if (!has('guestvault') || !has(peer)) return out.push({ text, status: 'n/a', detail: 'tool not run' });
    const gv = gvSec(step);
    const p = seconds(results, peer, step);
    if (gv == null || p == null) return out.push({ text, status: 'n/a', detail: `${gv == null ? 'guestvault' : peer} failed` });
    const ratio = p / gv;
    out.push({ text, status: ratio >= min ? 'MET' : 'NOT MET', detail: `${ratio.toFixed(2)}x (${peer} ${p.toFixed(2)} s, guestvault ${gv.toFixed(2)} s)` });
  };
  speed('first backup >= 4x faster than restic', 'restic', 'first', 4);
  speed('first backup >= 3x faster than borg', 'borg', 'first', 3);
  {
    const text = 'first backup takes <= 1.5x the time of zstd -1 -T0';
    if (!has('guestvault') || !has('zstd')) out.push({ text, status: 'n/a', detail: 'tool not run' });
    else {
      const gv = gvSec('first');
      const z = seconds(results, 'zstd', 'first');
      if (gv == null || z == null) out.push({ text, status: 'n/a', detail: `${gv == null ? 'guestvault' : 'zstd'} failed` });
      else out.push({ text, status: gv <= 1.5 * z ? 'MET' : 'NOT MET', detail: `${(gv / z).toFixed(2)}x zstd's time (zstd ${z.toFixed(2)} s, guestvault ${gv.toFixed(2)} s)` });
    }
  }
  speed('unchanged backup >= 2x faster than restic', 'restic', 'unchanged', 2);
  speed('changed backup >= 2x faster than restic', 'restic', 'changed', 2);
  speed('restore >= 2.5x faster than restic', 'restic', 'restore', 2.5);
  {
    const text = 'repository growth for the changed image within 10 % of restic\'s (or smaller)';
    const g = (t) => {
      const s = results[t]?.steps.changed;
      return s && s.status === 'ok' ? s.growthBytes : null;
    };
    if (!has('guestvault') || !has('restic')) out.push({ text, status: 'n/a', detail: 'tool not run' });
    else if (g('guestvault') == null || g('restic') == null) out.push({ text, status: 'n/a', detail: `${g('guestvault') == null ? 'guestvault' : 'restic'} failed` });
    else {
      const gv = g('guestvault');
      const r = g('restic');
      const rel = r > 0 ? gv / r - 1 : (gv > 0 ? Infinity : 0);
      out.push({ text, status: gv <= 1.1 * r ? 'MET' : 'NOT MET', detail: `guestvault ${gv} B, restic ${r} B (${rel >= 0 ? '+' : ''}${(rel * 100).toFixed(1)} %)` });
    }
  }
  {
    const text = 'guestvault peak RSS < 300 MiB';
    const v = has('guestvault') ? rowValue({ kind: 'rss' }, 'guestvault', results.guestvault) : 'n/a';
    if (typeof v !== 'number') out.push({ text, status: 'n/a', detail: has('guestvault') ? 'guestvault failed' : 'tool not run' });
    else out.push({ text, status: v < 300 ? 'MET' : 'NOT MET', detail: `${v.toFixed(1)} MiB` });
  }
  return out;
}

export function targetLines(list) {
  const w = Math.max(...list.map((t) => t.text.length));
  return list.map((t) => `  ${t.status.padEnd(7)}  ${t.text.padEnd(w)}  ${t.detail}`).join('\n');
}
