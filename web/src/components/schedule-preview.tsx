import { useEffect, useState } from 'preact/hooks';
import { errorText, get } from '../api';
import { formatRun } from '../format';
import type { ScheduleRun } from '../types';

const DEBOUNCE_MS = 300;

type Analysis = { state: 'idle' } | { state: 'checking' } | { state: 'ok'; runs: ScheduleRun[] } | { state: 'error'; message: string };

/**
 * The next five runs of a calendar-event schedule, asked from the server (the same parser the
 * scheduler uses) once the user stops typing for a moment.
 */
export function useScheduleAnalysis(schedule: string): Analysis {
  const [analysis, setAnalysis] = useState<Analysis>({ state: 'idle' });
  useEffect(() => {
    const text = schedule.trim();
    if (!text) {
      setAnalysis({ state: 'error', message: 'Enter a schedule, e.g. "daily", "mon..fri 23:00" or "*/4:00".' });
      return;
    }
    let current = true;
    setAnalysis({ state: 'checking' });
    const timer = window.setTimeout(() => {
      get<ScheduleRun[]>('/cluster/jobs/schedule-analyze', { schedule: text, iterations: 5 }).then(
        (runs) => {
          if (current) setAnalysis({ state: 'ok', runs });
        },
        (err: unknown) => {
          if (current) setAnalysis({ state: 'error', message: errorText(err) });
        },
      );
    }, DEBOUNCE_MS);
    return () => {
      current = false;
      window.clearTimeout(timer);
    };
  }, [schedule]);
  return analysis;
}

export function SchedulePreview({ analysis }: { analysis: Analysis }) {
  if (analysis.state === 'error') {
    return (
      <span class="field-error error-message" data-testid="job-schedule-error" role="alert">
        {analysis.message}
      </span>
    );
  }
  if (analysis.state === 'checking') return <span class="hint">checking…</span>;
  if (analysis.state !== 'ok') return null;
  if (analysis.runs.length === 0) return <span class="hint">This schedule never runs again.</span>;
  return (
    <div class="next-runs">
      <span class="hint">Next runs (local time):</span>
      <ol data-testid="job-next-runs">
        {analysis.runs.map((r) => (
          <li key={r.timestamp} title={r.utc}>
            {formatRun(r.timestamp)}
          </li>
        ))}
      </ol>
    </div>
  );
}
