import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, errorText, getList, seg } from '../api';
import { ErrorMessage } from '../components/error-message';
import { PageHead } from '../components/page-head';
import { ResultBadge } from '../components/result-badge';
import { VirtualList } from '../components/virtual-list';
import { useApp } from '../context';
import { formatDuration, formatTime } from '../format';
import type { TaskEntry } from '../types';
import { PHONE_QUERY, useInterval, useMediaQuery } from '../use-api';

const PAGE = 500;
const ROW_HEIGHT = 38;
const PHONE_ROW_HEIGHT = 60;
const COLUMNS = '165px 165px 150px 90px minmax(120px, 1fr) minmax(160px, 1.4fr) 80px';
const KNOWN_TYPES = ['vzdump', 'qmrestore', 'qmstart', 'qmstop', 'qmshutdown', 'qmsuspend', 'qmresume', 'verify', 'garbage_collection', 'prune', 'backup-job'];

interface Filters {
  type: string;
  vmid: string;
  errors: boolean;
  running: boolean;
}

interface ListState {
  items: TaskEntry[];
  total: number;
  loading: boolean;
  error?: string;
}

/** Text filters wait until typing pauses, so every key press does not reload the list. */
function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = window.setTimeout(() => setV(value), ms);
    return () => window.clearTimeout(t);
  }, [value, ms]);
  return v;
}

export function TasksPage() {
  const { node, username, can, openTask } = useApp();
  const [type, setType] = useState('');
  const [vmid, setVmid] = useState('');
  const [errors, setErrors] = useState(false);
  const [running, setRunning] = useState(false);
  const filters: Filters = { type: useDebounced(type, 300), vmid: useDebounced(vmid, 300), errors, running };
  const key = JSON.stringify(filters);
  const [list, setList] = useState<ListState>({ items: [], total: 0, loading: true });
  const [rowError, setRowError] = useState<string>();
  const phone = useMediaQuery(PHONE_QUERY);
  const gen = useRef(0);
  const loadingMore = useRef(false);

  const vmidError = filters.vmid && !/^[0-9]{1,9}$/.test(filters.vmid) ? 'A VMID is a number.' : undefined;

  const fetchPage = useCallback(
    (start: number, limit: number) => {
      const f = JSON.parse(key) as Filters;
      return getList<TaskEntry>(`/nodes/${seg(node)}/tasks`, {
        start,
        limit,
        typefilter: f.type.trim() || undefined,
        vmid: f.vmid.trim() || undefined,
        errors: f.errors,
        running: f.running,
      });
    },
    [node, key],
  );

  /** Replace the list by its first `limit` tasks (a filter changed, or a refresh). */
  const reloadHead = useCallback(
    (limit: number) => {
      const mine = ++gen.current;
      loadingMore.current = false;
      setList((l) => ({ ...l, loading: true }));
      fetchPage(0, limit).then(
        (r) => {
          if (mine === gen.current) setList({ items: r.data, total: r.total, loading: false });
        },
        (err: unknown) => {
          if (mine === gen.current) setList({ items: [], total: 0, loading: false, error: errorText(err) });
        },
      );
    },
    [fetchPage],
  );

  useEffect(() => {
    if (vmidError) return;
    reloadHead(PAGE);
  }, [reloadHead, vmidError]);

  const loadMore = () => {
    if (loadingMore.current || list.loading || list.items.length >= list.total) return;
    loadingMore.current = true;
    const mine = gen.current;
    const start = list.items.length;
    fetchPage(start, PAGE).then(
      (r) => {
        loadingMore.current = false;
        if (mine !== gen.current) return;
        // Tasks that started meanwhile shift the list; drop the ones already shown.
        setList((l) => {
          const seen = new Set(l.items.map((t) => t.upid));
          return { ...l, items: l.items.concat(r.data.filter((t) => !seen.has(t.upid))), total: r.total };
        });
      },
      (err: unknown) => {
        loadingMore.current = false;
        if (mine === gen.current) setList((l) => ({ ...l, error: errorText(err) }));
      },
    );
  };

  // Keep running tasks' state fresh while only the first page is shown.
  useInterval(() => {
    if (!vmidError && list.items.length <= PAGE && !list.loading) reloadHead(PAGE);
  }, 10_000);

  const stop = async (t: TaskEntry) => {
    setRowError(undefined);
    try {
      await api<null>('DELETE', `/nodes/${seg(node)}/tasks/${seg(t.upid)}`);
      reloadHead(Math.max(PAGE, list.items.length));
    } catch (err) {
      setRowError(`Stopping ${t.type} ${t.id}: ${errorText(err)}`);
    }
  };

  const mayStopAny = can('/', 'Sys.Modify');
  const now = Date.now() / 1000;

  return (
    <section class="page page-fill">
      <PageHead title="Tasks" onRefresh={() => reloadHead(PAGE)} refreshTestId="tasks-refresh" />
      <div class="filters">
        <label>
          Type
          <input type="search" list="task-types" placeholder="any" value={type} onInput={(e) => setType(e.currentTarget.value)} data-testid="tasks-filter-type" />
          <datalist id="task-types">
            {KNOWN_TYPES.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </label>
        <label>
          VMID / ID
          <input type="search" inputMode="numeric" class="narrow" placeholder="any" value={vmid} onInput={(e) => setVmid(e.currentTarget.value)} data-testid="tasks-filter-vmid" />
        </label>
        <label class="check">
          <input type="checkbox" checked={errors} onChange={(e) => setErrors(e.currentTarget.checked)} data-testid="tasks-filter-errors" />
          errors only
        </label>
        <label class="check">
          <input type="checkbox" checked={running} onChange={(e) => setRunning(e.currentTarget.checked)} data-testid="tasks-filter-running" />
          running
        </label>
        <span class="muted" data-testid="tasks-count">
          {list.loading ? 'loading…' : `${list.items.length} of ${list.total}`}
        </span>
      </div>
      <ErrorMessage error={vmidError} />
      <ErrorMessage error={list.error} />
      <ErrorMessage error={rowError} />
      <VirtualList
        items={list.items}
        rowHeight={phone ? PHONE_ROW_HEIGHT : ROW_HEIGHT}
        columns={COLUMNS}
        minWidth={phone ? 0 : 980}
        class="task-list"
        testId="task-list"
        resetKey={`${key}|${phone}`}
        onRange={(_first, last) => {
          if (last >= list.items.length - 50) loadMore();
        }}
        header={
          phone ? undefined : (
            <>
              <div>Start</div>
              <div>End</div>
              <div>Type</div>
              <div>ID</div>
              <div>User</div>
              <div>Status</div>
              <div />
            </>
          )
        }
        empty={list.loading ? null : 'No tasks match.'}
        renderRow={(t, _i, style) => {
          const isRunning = t.endtime === undefined || t.endtime === null;
          const stopButton = isRunning && (mayStopAny || t.user === username) && (
            <button
              type="button"
              class="small danger"
              onClick={(e) => {
                e.stopPropagation();
                void stop(t);
              }}
              data-testid="task-row-stop"
            >
              Stop
            </button>
          );
          const rowProps = {
            style,
            onClick: () => openTask(t.upid, { onDone: () => reloadHead(Math.max(PAGE, list.items.length)) }),
            'data-testid': 'task-row',
            'data-upid': t.upid,
            'data-status': isRunning ? 'running' : t.status,
          };
          if (phone) {
            return (
              <div key={t.upid} class="vlist-row phone-row clickable" {...rowProps}>
                <div class="phone-line">
                  <strong>{formatTime(t.starttime)}</strong>
                  <span>{t.type}</span>
                  <span>{t.id}</span>
                </div>
                <div class="phone-line">
                  <ResultBadge status={isRunning ? undefined : t.status} />
                  <span class="muted ellipsis">{t.user}</span>
                  {stopButton}
                </div>
              </div>
            );
          }
          return (
            <div key={t.upid} class="vlist-row vlist-grid clickable" {...rowProps}>
              <div>{formatTime(t.starttime)}</div>
              <div>{isRunning ? <span class="muted">{formatDuration(now - t.starttime)} so far</span> : formatTime(t.endtime)}</div>
              <div>{t.type}</div>
              <div>{t.id}</div>
              <div title={t.user}>{t.user}</div>
              <div>
                <ResultBadge status={isRunning ? undefined : t.status} />
              </div>
              <div>{stopButton}</div>
            </div>
          );
        }}
      />
    </section>
  );
}
