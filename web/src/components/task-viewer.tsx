import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, errorText, get, getList, seg } from '../api';
import { useApp } from '../context';
import { formatDuration, formatTime, resultKind } from '../format';
import type { LogLine, TaskStatus } from '../types';
import { Dialog } from './dialog';
import { ErrorMessage } from './error-message';

const POLL_MS = 1000;
const PAGE = 1000;

interface TaskViewerProps {
  upid: string;
  onClose: () => void;
  onDone?: (status: TaskStatus) => void;
}

/** Short description of a UPID (UPID:node:pid:pstart:starttime:type:id:user:) before its status arrives. */
function upidParts(upid: string): { type: string; id: string; user: string } {
  const p = upid.split(':');
  return { type: p[5] ?? '', id: p[6] ?? '', user: p[7] ?? '' };
}

/**
 * Follows one task: appends new log lines and refreshes the status every second until the task
 * has stopped, then shows how it ended. Closing it does not stop the task.
 */
export function TaskViewer({ upid, onClose, onDone }: TaskViewerProps) {
  const { node, username, can } = useApp();
  const [lines, setLines] = useState<LogLine[]>([]);
  const [status, setStatus] = useState<TaskStatus>();
  const [error, setError] = useState<string>();
  const [stopError, setStopError] = useState<string>();
  const [stopping, setStopping] = useState(false);
  const logBox = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const done = useRef(onDone);
  done.current = onDone;

  useEffect(() => {
    let alive = true;
    let timer = 0;
    let seen = 0;
    const base = `/nodes/${seg(node)}/tasks/${seg(upid)}`;

    const readLog = async (): Promise<number> => {
      const log = await getList<LogLine>(`${base}/log`, { start: seen, limit: PAGE });
      if (!alive) return 0;
      if (log.data.length) {
        seen += log.data.length;
        const fresh = log.data;
        setLines((prev) => prev.concat(fresh));
      }
      return log.total;
    };

    const tick = async () => {
      try {
        let total = await readLog();
        const st = await get<TaskStatus>(`${base}/status`);
        if (!alive) return;
        setStatus(st);
        setError(undefined);
        if (st.status === 'stopped') {
          // The last lines may have been written after the log was read.
          do {
            total = await readLog();
          } while (alive && seen < total);
          if (alive) done.current?.(st);
          return;
        }
        timer = window.setTimeout(() => void tick(), total > seen ? 0 : POLL_MS);
      } catch (err) {
        if (!alive) return;
        if (err instanceof ApiError && err.status === 401) return;
        setError(errorText(err));
        timer = window.setTimeout(() => void tick(), POLL_MS * 2);
      }
    };
    void tick();
    return () => {
      alive = false;
      window.clearTimeout(timer);
    };
  }, [node, upid]);

  // Keep the newest line in view unless the user scrolled up to read.
  useLayoutEffect(() => {
    const el = logBox.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lines]);

  const running = status === undefined || status.status === 'running';
  const info = status ?? upidParts(upid);
  const mayStop = info.user === username || can('/', 'Sys.Modify');
  const exit = status?.status === 'stopped' ? (status.exitstatus ?? 'unknown') : undefined;
  const kind = exit === undefined ? 'running' : resultKind(exit);

  const stop = async () => {
    setStopping(true);
    setStopError(undefined);
    try {
      await api<null>('DELETE', `/nodes/${seg(node)}/tasks/${seg(upid)}`);
    } catch (err) {
      setStopError(errorText(err));
      setStopping(false);
    }
  };

  const elapsed = status ? (status.endtime ?? Date.now() / 1000) - status.starttime : undefined;

  return (
    <Dialog
      title={`Task: ${info.type}${info.id ? ` ${info.id}` : ''}`}
      onClose={onClose}
      testId="task-viewer"
      wide
      footer={
        <>
          {running && mayStop && (
            <button type="button" class="danger" disabled={stopping} onClick={() => void stop()} data-testid="task-stop">
              {stopping ? 'Stopping…' : 'Stop'}
            </button>
          )}
          <button type="button" onClick={onClose} data-testid="task-close">
            Close
          </button>
        </>
      }
    >
      <dl class="task-meta">
        <dt>Status</dt>
        <dd>
          <span class={`task-status badge badge-${kind}`} data-testid="task-status" data-state={running ? 'running' : 'stopped'}>
            {exit ?? 'running'}
          </span>
          {running && <span class="spinner" aria-hidden="true" />}
        </dd>
        <dt>User</dt>
        <dd>{info.user}</dd>
        {status && (
          <>
            <dt>Started</dt>
            <dd>{formatTime(status.starttime)}</dd>
          </>
        )}
        {status?.endtime !== undefined && (
          <>
            <dt>Ended</dt>
            <dd>{formatTime(status.endtime)}</dd>
          </>
        )}
        {elapsed !== undefined && (
          <>
            <dt>Duration</dt>
            <dd>{formatDuration(elapsed)}</dd>
          </>
        )}
        <dt>UPID</dt>
        <dd class="upid">{upid}</dd>
      </dl>
      {exit !== undefined && kind === 'error' && (
        <div class="task-outcome error-message" role="alert">
          Task failed: {exit}
        </div>
      )}
      {exit !== undefined && kind === 'warn' && <div class="task-outcome warn-message">Task finished with {exit.toLowerCase()}</div>}
      {exit !== undefined && kind === 'ok' && <div class="task-outcome ok-message">Task finished successfully</div>}
      <ErrorMessage error={error} />
      <ErrorMessage error={stopError} />
      <div
        class="task-log"
        data-testid="task-log"
        ref={logBox}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {lines.map((l) => (
          <div class="log-line" key={l.n}>
            {l.t}
          </div>
        ))}
        {lines.length === 0 && <div class="muted">{running ? 'waiting for output…' : 'no output'}</div>}
      </div>
    </Dialog>
  );
}
