import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { api, query, SEVERITIES, type Alert, type Page } from '../api.js';
import { Card, Empty, Loadable, SeverityBadge, StatusBadge, When } from '../components.js';
import { EvidenceTable } from '../evidence.js';
import { useLoad } from '../hooks.js';
import { useLive, useSession } from '../App.js';
import { Link, navigate, usePath } from '../router.js';
import { IncidentTable, type Incident } from './Incidents.js';

const FILTERS = ['severity', 'status', 'source', 'cluster', 'namespace', 'tactic', 'since', 'q', 'resource'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

function matches(alert: Alert, f: Filters): boolean {
  if (f.severity && !f.severity.split(',').includes(alert.severity)) return false;
  if (f.status && !f.status.split(',').includes(alert.status)) return false;
  if (f.source && !f.source.split(',').includes(alert.source)) return false;
  if (f.cluster && alert.resource.cluster !== f.cluster) return false;
  if (f.namespace && alert.resource.namespace !== f.namespace) return false;
  if (f.tactic && alert.tactic !== f.tactic) return false;
  if (f.resource && alert.resource.id !== f.resource) return false;
  if (f.q && !`${alert.title} ${alert.rule} ${alert.resource.id}`.toLowerCase().includes(f.q.toLowerCase())) return false;
  return true;
}

export function AlertsPage() {
  const path = usePath();
  const filters = useMemo(() => {
    const params = new URLSearchParams(path.split('?')[1] ?? '');
    const f: Filters = {};
    for (const key of FILTERS) {
      const value = params.get(key);
      if (value) f[key] = value;
    }
    return f;
  }, [path]);
  const [draft, setDraft] = useState<Filters>(filters);
  useEffect(() => setDraft(filters), [filters]);
  const key = JSON.stringify(filters);
  const first = useLoad(() => api<Page<Alert>>(`/alerts${query({ ...filters, since: filters.since ? new Date(filters.since).toISOString() : undefined, limit: 50 })}`), key);
  const [more, setMore] = useState<{ items: Alert[]; next?: string }>({ items: [] });
  useEffect(() => setMore({ items: [] }), [key]);
  const live = useLive();
  // Reloaded as alerts arrive live: a new alert may join or open an incident.
  const incidents = useLoad(() => api<Page<Incident>>('/incidents?limit=20'), `incidents-${live.alerts.length}`);
  // Alerts that arrived live and match the filters, until a reload lists them from the API.
  const liveMatches = live.alerts.filter((a) => matches(a, filters) && !first.data?.items.some((x) => x.id === a.id));

  const apply = (event: FormEvent) => {
    event.preventDefault();
    navigate(`/alerts${query(draft)}`);
  };
  const loadMore = async () => {
    const cursor = more.next ?? first.data?.next;
    if (!cursor) return;
    const page = await api<Page<Alert>>(`/alerts${query({ ...filters, limit: 50, cursor })}`);
    setMore((m) => ({ items: [...m.items, ...page.items], next: page.next ?? '' }));
  };
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [k]: e.target.value || undefined }));
  const next = more.next === '' ? undefined : more.next ?? first.data?.next;

  return (
    <>
      <h1>Security alerts</h1>
      <form className="filters" onSubmit={apply} aria-label="Filter alerts">
        <label>Search <input type="search" value={draft.q ?? ''} onChange={set('q')} placeholder="title, rule or resource" /></label>
        <label>Severity
          <select value={draft.severity ?? ''} onChange={set('severity')}>
            <option value="">Any</option>
            {SEVERITIES.map((s) => <option key={s} value={s}>{s}</option>)}
            <option value="critical,high">critical and high</option>
          </select>
        </label>
        <label>Status
          <select value={draft.status ?? ''} onChange={set('status')}>
            <option value="">Any</option><option value="active">active</option><option value="dismissed">dismissed</option><option value="resolved">resolved</option>
          </select>
        </label>
        <label>Source
          <select value={draft.source ?? ''} onChange={set('source')}>
            <option value="">Any</option><option value="audit">audit log</option><option value="agent">node agent</option><option value="registry">registry</option><option value="admission">admission</option>
          </select>
        </label>
        <label>Cluster <input value={draft.cluster ?? ''} onChange={set('cluster')} /></label>
        <label>Namespace <input value={draft.namespace ?? ''} onChange={set('namespace')} /></label>
        <label>Tactic <input value={draft.tactic ?? ''} onChange={set('tactic')} /></label>
        <label>Seen since <input type="datetime-local" value={draft.since ?? ''} onChange={set('since')} /></label>
        <button type="submit">Apply filters</button>
        <button type="button" onClick={() => navigate('/alerts')}>Clear</button>
      </form>
      {filters.resource ? <p className="note" role="status">Alerts on resource <code>{filters.resource}</code> only (linked from an alert's evidence). Clear shows all.</p> : null}
      <Loadable state={first} what="Alerts" empty={(p) => p.items.length === 0 && liveMatches.length === 0}>
        {(page) => (
          <>
            <table className="alerts">
              <caption className="sr-only">Alerts, newest first</caption>
              <thead><tr><th scope="col">Severity</th><th scope="col">Alert</th><th scope="col">Resource</th><th scope="col">Tactic</th><th scope="col">Count</th><th scope="col">Last seen</th><th scope="col">Status</th></tr></thead>
              <tbody>
                {[...liveMatches, ...page.items, ...more.items].map((a) => (
                  <tr key={a.id} className={liveMatches.includes(a) ? 'new' : undefined}>
                    <td><SeverityBadge severity={a.severity} /></td>
                    <td><Link to={`/alerts/${encodeURIComponent(a.id)}`}>{a.title}</Link>{liveMatches.includes(a) ? <span className="badge">new</span> : null}</td>
                    <td>{[a.resource.cluster, a.resource.namespace, `${a.resource.kind}/${a.resource.name}`].filter(Boolean).join(' / ')}</td>
                    <td>{a.tactic}</td>
                    <td>{a.count}</td>
                    <td><When at={a.lastSeen} /></td>
                    <td><StatusBadge status={a.status} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
            {next ? <button type="button" onClick={loadMore}>Load more alerts</button> : null}
          </>
        )}
      </Loadable>
      <Card title="Incidents: alerts on connected resources, taken together" id="alert-incidents">
        <Loadable state={incidents} what="Incidents" empty={(p) => p.items.length === 0}>
          {(p) => (
            <>
              <IncidentTable items={p.items} />
              <p><Link to="/incidents">All incidents</Link></p>
            </>
          )}
        </Loadable>
      </Card>
    </>
  );
}

interface Activity { actor: string; action: string; details: Record<string, unknown>; at: string }

export function AlertDetailPage({ id }: { id: string }) {
  const session = useSession();
  const alert = useLoad(() => api<Alert>(`/alerts/${encodeURIComponent(id)}`), id);
  const activity = useLoad(() => api<{ items: Activity[] }>(`/activity${query({ target: id })}`), `act-${id}-${alert.data?.status}`);
  const related = useLoad(
    () => (alert.data ? api<Page<Alert>>(`/alerts${query({ resource: alert.data.resource.id, limit: 20 })}`) : Promise.resolve({ items: [] })),
    `rel-${alert.data?.resource.id}`,
  );
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const act = async (status: Alert['status']) => {
    setError(null);
    try {
      await api(`/alerts/${encodeURIComponent(id)}/status`, { method: 'POST', body: reason ? { status, reason } : { status } });
      setDone(status === 'active' ? 'Alert reopened.' : `Alert ${status}.`);
      setReason('');
      alert.reload();
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <>
      <p><Link to="/alerts">← All security alerts</Link></p>
      <Loadable state={alert} what="Alert">
        {(a) => (
          <>
            <h1>{a.title}</h1>
            <p><SeverityBadge severity={a.severity} /> <StatusBadge status={a.status} /> <span className="muted">rule {a.rule}, source {a.source}</span></p>
            <div className="grid">
              <Card title="Description">
                <dl>
                  <dt>MITRE ATT&amp;CK tactic</dt><dd>{a.tactic}</dd>
                  <dt>Technique</dt><dd>{a.technique ?? '—'}</dd>
                  <dt>Affected resource</dt><dd>{a.resource.kind} <Link to={`/alerts${query({ q: a.resource.name, namespace: a.resource.namespace, cluster: a.resource.cluster })}`}>{a.resource.name}</Link>{a.resource.namespace ? <> in <Link to={`/alerts${query({ namespace: a.resource.namespace })}`}>{a.resource.namespace}</Link></> : ''}{a.resource.cluster ? ` (cluster ${a.resource.cluster})` : ''}</dd>
                  <dt>Occurrences</dt><dd>{a.count}, first <When at={a.firstSeen} />, last <When at={a.lastSeen} /></dd>
                </dl>
              </Card>
              <Card title="Remediation"><p className="pre">{a.remediation}</p></Card>
            </div>
            <Card title="Actions">
              {session?.role === 'admin' ? (
                <div className="actions">
                  <label htmlFor="reason">Reason (recorded in the audit trail)</label>
                  <input id="reason" value={reason} onChange={(e) => setReason(e.target.value)} />
                  {a.status !== 'dismissed' ? <button type="button" onClick={() => act('dismissed')}>Dismiss</button> : null}
                  {a.status !== 'resolved' ? <button type="button" onClick={() => act('resolved')}>Resolve</button> : null}
                  {a.status !== 'active' ? <button type="button" onClick={() => act('active')}>Reopen</button> : null}
                </div>
              ) : <p className="muted">Readers cannot change alerts.</p>}
              {done ? <p role="status">{done}</p> : null}
              {error ? <p role="alert" className="error">{error}</p> : null}
              <h3>History</h3>
              <Loadable state={activity} what="History" empty={(h) => h.items.length === 0}>
                {(h) => <ul>{h.items.map((e, i) => <li key={i}>{e.action} by {e.actor} at <When at={e.at} />{typeof e.details.reason === 'string' ? `: ${e.details.reason}` : ''}</li>)}</ul>}
              </Loadable>
            </Card>
            <Card title="Evidence">
              {a.evidence.length ? a.evidence.map((e, i) => <EvidenceTable key={i} event={e} index={i} />) : <Empty title="No evidence recorded" />}
            </Card>
            <Card title="Incident: alerts on the same resource">
              <Loadable state={related} what="Related alerts">
                {(r) => r.items.filter((x) => x.id !== a.id).length ? (
                  <ul>{r.items.filter((x) => x.id !== a.id).map((x) => <li key={x.id}><SeverityBadge severity={x.severity} /> <Link to={`/alerts/${encodeURIComponent(x.id)}`}>{x.title}</Link> <When at={x.lastSeen} /></li>)}</ul>
                ) : <p className="muted">No other alerts on this resource.</p>}
              </Loadable>
            </Card>
          </>
        )}
      </Loadable>
    </>
  );
}
