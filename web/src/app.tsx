import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { clearSession, errorText, get, logout, onUnauthorized, storedSession } from './api';
import { TaskViewer } from './components/task-viewer';
import { AppContext, type AppState, type OpenTaskOptions } from './context';
import { hasPriv } from './permissions';
import { useRoute } from './router';
import type { NodeEntry, Permissions } from './types';
import { DashboardPage } from './pages/dashboard';
import { GuestDetailPage } from './pages/guest-detail';
import { GuestListPage } from './pages/guest-list';
import { JobsPage } from './pages/jobs';
import { LoginPage } from './pages/login';
import { RetentionPage } from './pages/retention';
import { StorageDetailPage } from './pages/storage-detail';
import { StorageListPage } from './pages/storage-list';
import { TasksPage } from './pages/tasks';

interface Session {
  username: string;
  node: string;
  perms: Permissions;
}

type Phase = { kind: 'checking' } | { kind: 'login'; message?: string } | { kind: 'ready'; session: Session };

async function loadSession(username: string): Promise<Session> {
  const [nodes, perms] = await Promise.all([get<NodeEntry[]>('/nodes'), get<Permissions>('/access/permissions')]);
  const node = nodes[0]?.node;
  if (!node) throw new Error('the server reports no node');
  return { username, node, perms };
}

const NAV = [
  { id: 'dashboard', label: 'Dashboard', icon: '▦' },
  { id: 'guests', label: 'Guests', icon: '▣' },
  { id: 'jobs', label: 'Backup jobs', icon: '⟳' },
  { id: 'retention', label: 'Retention simulator', icon: '◷' },
  { id: 'storages', label: 'Storages', icon: '⛁' },
  { id: 'tasks', label: 'Tasks', icon: '☰' },
] as const;

export function App() {
  const [phase, setPhase] = useState<Phase>(() => (storedSession() ? { kind: 'checking' } : { kind: 'login' }));
  const [task, setTask] = useState<{ upid: string; opts?: OpenTaskOptions }>();

  useEffect(() => {
    onUnauthorized((message) => {
      clearSession();
      setTask(undefined);
      setPhase({ kind: 'login', message });
    });
  }, []);

  // A reload keeps the session (the cookie and the stored CSRF token) if the ticket is still good.
  useEffect(() => {
    const stored = storedSession();
    if (!stored) return;
    loadSession(stored.username).then(
      (session) => setPhase({ kind: 'ready', session }),
      (err: unknown) => setPhase((p) => (p.kind === 'checking' ? { kind: 'login', message: errorText(err) } : p)),
    );
  }, []);

  const onLoggedIn = useCallback(async (username: string) => {
    const session = await loadSession(username);
    setPhase({ kind: 'ready', session });
  }, []);

  const doLogout = useCallback(async () => {
    try {
      await logout();
    } catch {
      // The cookie expires on its own; the local session is gone either way.
    }
    setTask(undefined);
    setPhase({ kind: 'login' });
  }, []);

  const session = phase.kind === 'ready' ? phase.session : undefined;
  const ctx = useMemo<AppState | null>(() => {
    if (!session) return null;
    return {
      node: session.node,
      username: session.username,
      perms: session.perms,
      openTask: (upid, opts) => setTask({ upid, opts }),
      can: (path, priv) => hasPriv(session.perms, path, priv),
    };
  }, [session]);

  if (phase.kind === 'checking') return <div class="splash">Loading…</div>;
  if (phase.kind === 'login' || !ctx || !session) {
    const message = phase.kind === 'login' ? phase.message : undefined;
    return <LoginPage key={message ?? ''} message={message} onLoggedIn={onLoggedIn} />;
  }

  return (
    <AppContext.Provider value={ctx}>
      <Shell session={session} onLogout={() => void doLogout()} />
      {task && <TaskViewer key={task.upid} upid={task.upid} onDone={task.opts?.onDone} onClose={() => setTask(undefined)} />}
    </AppContext.Provider>
  );
}

function Shell({ session, onLogout }: { session: Session; onLogout: () => void }) {
  const route = useRoute();
  const section = route[0] ?? 'dashboard';
  // On phones the navigation is a sideways-scrolling bar: keep the current page's link in view.
  useEffect(() => {
    document.querySelector('.sidenav a.active')?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }, [section]);
  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="#/dashboard">
          guest<span>vault</span>
        </a>
        <span class="topbar-node" title="Node">
          {session.node}
        </span>
        <span class="topbar-spacer" />
        <span class="topbar-user" data-testid="current-user">
          {session.username}
        </span>
        <button type="button" class="small" onClick={onLogout} data-testid="logout-button">
          Log out
        </button>
      </header>
      <nav class="sidenav" aria-label="Main">
        {NAV.map((n) => (
          <a key={n.id} href={`#/${n.id}`} class={section === n.id ? 'active' : undefined} aria-current={section === n.id ? 'page' : undefined} data-testid={`nav-${n.id}`}>
            <span class="nav-icon" aria-hidden="true">
              {n.icon}
            </span>
            {n.label}
          </a>
        ))}
      </nav>
      <main class="content">
        <Page route={route} />
      </main>
    </div>
  );
}

function Page({ route }: { route: string[] }) {
  const [section, id] = route;
  switch (section ?? 'dashboard') {
    case 'dashboard':
      return <DashboardPage />;
    case 'guests':
      return id ? <GuestDetailPage key={id} vmid={id} /> : <GuestListPage />;
    case 'jobs':
      return <JobsPage />;
    case 'retention':
      return <RetentionPage />;
    case 'storages':
      return id ? <StorageDetailPage key={id} storageId={id} /> : <StorageListPage />;
    case 'tasks':
      return <TasksPage />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            There is no page “{route.join('/')}”. <a href="#/dashboard">Go to the dashboard</a>.
          </p>
        </section>
      );
  }
}
