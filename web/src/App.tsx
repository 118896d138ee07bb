import { createContext, useCallback, useContext, useEffect, useState } from 'react';
import { api, ApiError, setCsrf, whenSignedOut, type Alert, type SessionInfo } from './api.js';
import { useLiveAlerts } from './live.js';
import { AlertDetailPage, AlertsPage } from './pages/Alerts.js';
import { AttackPathDetailPage, AttackPathsPage } from './pages/AttackPaths.js';
import { CostsPage } from './pages/Costs.js';
import { IncidentDetailPage, IncidentsPage } from './pages/Incidents.js';
import { ImagesPage } from './pages/Images.js';
import { InventoryPage } from './pages/Inventory.js';
import { OverviewPage } from './pages/Overview.js';
import { RecommendationsPage } from './pages/Recommendations.js';
import { SettingsPage } from './pages/Settings.js';
import { SignInPage } from './pages/SignIn.js';
import { Link, navigate, usePath } from './router.js';

/**
 * Who is signed in, by a name a person recognises: a user by name, a token by the name it was
 * created with (`token create --name`), looked up in the token list (admins may read it); a
 * reader's token, which may not list tokens, is shown by its id.
 */
function SignedInAs({ session }: { session: SessionInfo }) {
  const [name, setName] = useState<string | undefined>();
  const tokenId = session.subject.startsWith('token:') ? session.subject.slice('token:'.length) : undefined;
  useEffect(() => {
    if (!tokenId || session.role !== 'admin') return;
    api<{ items: Array<{ id: string; name: string }> }>('/tokens').then((t) => setName(t.items.find((x) => x.id === tokenId)?.name), () => {});
  }, [tokenId, session.role]);
  if (!tokenId) return <>{session.subject.replace(/^user:/, '')}</>;
  return name ? <>token “{name}” <span className="muted">({tokenId})</span></> : <>token {tokenId}</>;
}

interface Live {
  /** Alerts that arrived since this page was opened, newest first. */
  alerts: Alert[];
  unseen: number;
  markSeen(): void;
  connected: boolean;
}

export const SessionContext = createContext<SessionInfo | null>(null);
export const LiveContext = createContext<Live>({ alerts: [], unseen: 0, markSeen: () => {}, connected: false });
export const useSession = () => useContext(SessionContext);
export const useLive = () => useContext(LiveContext);

const NAV = [
  { to: '/', label: 'Overview' },
  { to: '/alerts', label: 'Security alerts' },
  { to: '/incidents', label: 'Incidents' },
  { to: '/attack-paths', label: 'Attack paths' },
  { to: '/recommendations', label: 'Recommendations' },
  { to: '/images', label: 'Container images' },
  { to: '/inventory', label: 'Inventory' },
  { to: '/settings', label: 'Environment settings' },
  { to: '/costs', label: 'Costs' },
];

interface Toast { id: string; text: string; alertId: string }

export function App() {
  const path = usePath();
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const [liveAlerts, setLiveAlerts] = useState<Alert[]>([]);
  const [unseen, setUnseen] = useState(0);
  const [connected, setConnected] = useState(false);
  const [toasts, setToasts] = useState<Toast[]>([]);

  const loadSession = useCallback(() => {
    api<SessionInfo>('/session').then(
      (s) => {
        setCsrf(s.csrf);
        setSession(s);
      },
      (error: ApiError) => {
        if (error.status === 401) setSession(null);
        else setSession(null);
      },
    );
  }, []);
  useEffect(() => {
    whenSignedOut(() => setSession(null));
    loadSession();
  }, [loadSession]);

  useLiveAlerts(Boolean(session), (alert) => {
    setLiveAlerts((list) => [alert, ...list].slice(0, 200));
    if (!location.pathname.startsWith('/alerts')) setUnseen((n) => n + 1);
    if (alert.severity === 'high' || alert.severity === 'critical') {
      const toast = { id: `${alert.id}-${Date.now()}`, text: `${alert.severity === 'critical' ? 'Critical' : 'High'} severity alert: ${alert.title}`, alertId: alert.id };
      setToasts((t) => [...t, toast].slice(-3));
      setTimeout(() => setToasts((t) => t.filter((x) => x.id !== toast.id)), 15_000);
    }
  }, setConnected);

  useEffect(() => {
    if (path.startsWith('/alerts')) setUnseen(0);
  }, [path]);

  if (session === undefined) return <p className="muted" aria-busy="true">Loading…</p>;
  if (session === null) {
    return (
      <SignInPage
        onSignedIn={(s) => {
          setCsrf(s.csrf);
          setSession(s);
          if (path.startsWith('/sign-in')) navigate('/');
        }}
      />
    );
  }

  const signOut = async () => {
    await api('/session', { method: 'DELETE' }).catch(() => {});
    setCsrf(null);
    setSession(null);
  };

  const route = path.split('?')[0]!;
  let page;
  if (route === '/' || route === '/overview') page = <OverviewPage />;
  else if (route === '/alerts') page = <AlertsPage />;
  else if (route.startsWith('/alerts/')) page = <AlertDetailPage id={decodeURIComponent(route.slice('/alerts/'.length))} />;
  else if (route === '/incidents') page = <IncidentsPage />;
  else if (route.startsWith('/incidents/')) page = <IncidentDetailPage id={decodeURIComponent(route.slice('/incidents/'.length))} />;
  else if (route === '/attack-paths') page = <AttackPathsPage />;
  else if (route.startsWith('/attack-paths/')) page = <AttackPathDetailPage id={decodeURIComponent(route.slice('/attack-paths/'.length))} />;
  else if (route === '/recommendations') page = <RecommendationsPage />;
  else if (route.startsWith('/images')) page = <ImagesPage />;
  else if (route === '/inventory') page = <InventoryPage />;
  else if (route === '/settings') page = <SettingsPage />;
  else if (route === '/costs') page = <CostsPage />;
  else page = <p>No page here. <Link to="/">Go to the overview</Link>.</p>;

  return (
    <SessionContext.Provider value={session}>
      <LiveContext.Provider value={{ alerts: liveAlerts, unseen, markSeen: () => setUnseen(0), connected }}>
        <a className="skip" href="#main">Skip to content</a>
        <header className="top">
          <span className="brand">Palisade</span>
          <span className="muted">security center</span>
          <span className={`live ${connected ? 'on' : 'off'}`} role="status" aria-live="polite">{connected ? 'Live' : 'Reconnecting…'}</span>
          <span className="who">Signed in as <SignedInAs session={session} /> ({session.role})</span>
          <button type="button" onClick={signOut}>Sign out</button>
        </header>
        <div className="layout">
          <nav aria-label="Main">
            <ul>
              {NAV.map((item) => {
                const current = item.to === '/' ? route === '/' || route === '/overview' : route.startsWith(item.to);
                return (
                  <li key={item.to}>
                    <Link to={item.to} aria-current={current ? 'page' : undefined}>
                      {item.label}
                      {item.to === '/alerts' && unseen > 0 ? <span className="badge" aria-label={`${unseen} new`}>{unseen}</span> : null}
                    </Link>
                  </li>
                );
              })}
            </ul>
          </nav>
          <main id="main" tabIndex={-1}>{page}</main>
        </div>
        <div className="toasts" role="status" aria-live="assertive">
          {toasts.map((t) => (
            <div className="toast" key={t.id}>
              <Link to={`/alerts/${encodeURIComponent(t.alertId)}`}>{t.text}</Link>
              <button type="button" aria-label="Close notification" onClick={() => setToasts((all) => all.filter((x) => x.id !== t.id))}>×</button>
            </div>
          ))}
        </div>
      </LiveContext.Provider>
    </SessionContext.Provider>
  );
}
