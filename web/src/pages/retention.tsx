import { useState } from 'preact/hooks';
import { formatKeepOptions, KEEP_COUNT_OPTIONS, parseKeepOptions } from '../../../src/retention/keep-options.js';
import { errorText } from '../api';
import { DataTable } from '../components/data-table';
import { ErrorMessage } from '../components/error-message';
import { RetentionCalendar } from '../components/retention-calendar';
import { keepOptionsOf, type KeepFields } from '../keep-fields';
import { KEEP_LABEL } from '../keep-labels';
import { formatTime } from '../format';
import { MAX_BACKUPS, simulate, type Interval, type SimBackup, type SimSchedule } from '../retention-sim';

const INTERVAL_LABEL: Record<Interval, string> = { hour: 'hour', day: 'day', week: 'week', month: 'month' };

function today(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

interface Result {
  backups: SimBackup[];
  keepText: string;
  schedule: SimSchedule;
}

export function RetentionPage() {
  const [keep, setKeep] = useState<KeepFields>({ 'keep-last': '', 'keep-hourly': '', 'keep-daily': '', 'keep-weekly': '', 'keep-monthly': '', 'keep-yearly': '' });
  const [importText, setImportText] = useState('');
  const [importError, setImportError] = useState<string>();
  const [every, setEvery] = useState<Interval>('day');
  const [count, setCount] = useState('60');
  const [time, setTime] = useState('23:00');
  const [endDate, setEndDate] = useState(today);
  const [result, setResult] = useState<Result>();
  const [error, setError] = useState<string>();

  let canonical = '';
  let keepError: string | undefined;
  try {
    canonical = formatKeepOptions(keepOptionsOf(keep));
  } catch (err) {
    keepError = errorText(err);
  }

  const applyImport = () => {
    try {
      const parsed = parseKeepOptions(importText);
      if (parsed['keep-all']) throw new Error('keep-all=1 keeps everything: there is nothing to simulate');
      setKeep(Object.fromEntries(KEEP_COUNT_OPTIONS.map((o) => [o, parsed[o] ? String(parsed[o]) : ''])) as KeepFields);
      setImportError(undefined);
    } catch (err) {
      setImportError(errorText(err));
    }
  };

  const run = (e: Event) => {
    e.preventDefault();
    if (keepError) {
      // Already shown under the retention fields.
      setError(undefined);
      setResult(undefined);
      return;
    }
    try {
      const schedule: SimSchedule = { interval: every, count: Number(count), endDate, time };
      const opts = keepOptionsOf(keep);
      setResult({ backups: simulate(schedule, opts), keepText: formatKeepOptions(opts) || 'no keep option: everything is kept', schedule });
      setError(undefined);
    } catch (err) {
      setError(errorText(err));
      setResult(undefined);
    }
  };

  const kept = result?.backups.filter((b) => b.mark === 'keep') ?? [];
  const removed = (result?.backups.length ?? 0) - kept.length;

  return (
    <section class="page">
      <div class="page-head">
        <h1>Retention simulator</h1>
      </div>
      <p class="muted">
        See which backups a retention setting keeps. It uses the same prune code as the server; periods (hours, days, ISO weeks, months, years) are in your browser's time zone.
      </p>

      <form class="panel form" onSubmit={run} data-testid="retention-form">
        <h2>Retention</h2>
        <div class="keep-grid">
          {KEEP_COUNT_OPTIONS.map((o) => (
            <label key={o}>
              {KEEP_LABEL[o]}
              <input type="number" min={0} step={1} placeholder="–" value={keep[o]} onInput={(e) => setKeep({ ...keep, [o]: e.currentTarget.value })} data-testid={`retention-${o}`} />
            </label>
          ))}
        </div>
        {keepError ? (
          <span class="field-error error-message">{keepError}</span>
        ) : (
          <span class="hint" data-testid="retention-prune-backups">
            prune-backups: <code>{canonical || '(none: keeps everything)'}</code>
          </span>
        )}
        <div class="inline-form">
          <label>
            Or paste a prune-backups string
            <input type="text" placeholder="keep-daily=7,keep-weekly=4" value={importText} onInput={(e) => setImportText(e.currentTarget.value)} data-testid="retention-import" />
          </label>
          <button type="button" onClick={applyImport} data-testid="retention-import-apply">
            Apply
          </button>
        </div>
        <ErrorMessage error={importError} />

        <h2>Simulated backups</h2>
        <div class="inline-form">
          <label>
            One backup every
            <select value={every} onChange={(e) => setEvery(e.currentTarget.value as Interval)} data-testid="retention-interval">
              {(Object.keys(INTERVAL_LABEL) as Interval[]).map((i) => (
                <option key={i} value={i}>
                  {INTERVAL_LABEL[i]}
                </option>
              ))}
            </select>
          </label>
          <label>
            {every === 'hour' ? 'at minute of' : 'at'}
            <input type="time" value={time} onInput={(e) => setTime(e.currentTarget.value)} data-testid="retention-time" />
          </label>
          <label>
            count
            <input type="number" min={1} max={MAX_BACKUPS} value={count} onInput={(e) => setCount(e.currentTarget.value)} data-testid="retention-count" />
          </label>
          <label>
            newest on
            <input type="date" value={endDate} onInput={(e) => setEndDate(e.currentTarget.value)} data-testid="retention-end" />
          </label>
          <button type="submit" class="primary" data-testid="retention-simulate">
            Simulate
          </button>
        </div>
        <ErrorMessage error={error} />
      </form>

      {result && (
        <div class="panel" data-testid="retention-result">
          <h2>Result</h2>
          <p class="sim-summary">
            {result.backups.length} backups (one every {INTERVAL_LABEL[result.schedule.interval]}) with <code>{result.keepText}</code>:{' '}
            <span class="badge badge-ok" data-testid="retention-kept-count">
              {kept.length} kept
            </span>{' '}
            <span class="badge badge-error" data-testid="retention-removed-count">
              {removed} removed
            </span>
          </p>
          <div class="legend">
            <span class="bk bk-keep">
              <span class="bk-time">23:00</span>
              <span class="bk-rule">keep-daily 1</span>
            </span>{' '}
            kept, with the rule that kept it{' '}
            <span class="bk bk-remove">
              <span class="bk-time">23:00</span>
            </span>{' '}
            removed (hover for why)
          </div>
          <RetentionCalendar backups={result.backups} compact={result.schedule.interval === 'hour'} />
          <h3>Kept backups</h3>
          <DataTable columns={['Time', 'Kept by', 'Reason']} testId="retention-kept-list">
            {kept.map((b) => (
              <tr key={b.time}>
                <td data-label="Time" class="nowrap">
                  {formatTime(b.time)}
                </td>
                <td data-label="Kept by">{b.rule}</td>
                <td data-label="Reason" class="muted">
                  {b.reason}
                </td>
              </tr>
            ))}
          </DataTable>
        </div>
      )}
    </section>
  );
}
