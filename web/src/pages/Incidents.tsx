import { useMemo, useState } from 'react';
import { api, query, type Alert, type Page } from '../api.js';
import { Card, Empty, Loadable, SeverityBadge, StatusBadge, When } from '../components.js';
import { EntityName, type Entity } from '../entities.js';
import { useLoad } from '../hooks.js';
import { useLive } from '../App.js';
import { Link, navigate, usePath } from '../router.js';

/** GET /api/v1/incidents items (contract of #18); servers before it send no id, title or entities. */
export interface Incident {
  id?: string;
  title?: string;
  status?: Alert['status'];
  resource: Alert['resource'];
  severity: Alert['severity'];
  tactics: string[];
  alertCount: number;
  alerts: { id: string; title: string; severity: Alert['severity']; tactic: string; status: Alert['status']; lastSeen: string; source?: string; joinedBecause?: string }[];
  entities?: Entity[];
  firstSeen: string;
  lastSeen: string;
}
interface IncidentDetail extends Incident {
  timeline: { at: string; alertId: string; title: string; tactic: string; source: string }[];
}

const SOURCE: Record<string, string> = { audit: 'API server audit log', agent: 'node agent', registry: 'registry scan', admission: 'admission control', posture: 'posture scan' };
const sourceName = (s: string | undefined): string => (s ? SOURCE[s] ?? s : '—');
const resourceName = (r: Alert['resource']): string => [r.cluster, r.namespace, `${r.kind}/${r.name}`].filter(Boolean).join(' / ');
const incidentLink = (i: Incident): string => (i.id ? `/incidents/${encodeURIComponent(i.id)}` : `/alerts/${encodeURIComponent(i.alerts[0]!.id)}`);

/** The kill chain as the incident walked it, in order. */
function Tactics({ tactics }: { tactics: string[] }) {
  if (!tactics.length) return <span className="muted">—</span>;
  return (
    <ol className="tactics" aria-label="Tactics in kill-chain order">
      {tactics.map((t) => <li key={t}>{t}</li>)}
    </ol>
  );
}

/** Who acted and which images are involved: what a responder asks first, before opening the incident. */
function WhoAndWhat({ entities }: { entities: Entity[] }) {
  const users = entities.filter((e) => e.kind === 'user');
  const images = entities.filter((e) => e.kind === 'image');
  if (!users.length && !images.length) return null;
  return (
    <div className="muted">
      {users.length ? <>by {users.map((u) => u.name).join(', ')}</> : null}
      {users.length && images.length ? '; ' : null}
      {images.length ? <>image {images.map((e, n) => <span key={e.id}>{n ? ', ' : ''}<EntityName entity={e} /></span>)}</> : null}
    </div>
  );
}

/** The incidents table, shared by the incidents page and the alerts page. */
export function IncidentTable({ items }: { items: Incident[] }) {
  return (
    <table>
      <thead><tr><th scope="col">Severity</th><th scope="col">Incident</th><th scope="col">Alerts</th><th scope="col">Sources</th><th scope="col">Tactics</th><th scope="col">Last seen</th><th scope="col">Status</th></tr></thead>
      <tbody>{items.map((i) => (
        <tr key={i.id ?? i.resource.id}>
          <td><SeverityBadge severity={i.severity} /></td>
          <td>
            <Link to={incidentLink(i)}>{i.title ?? resourceName(i.resource)}</Link>
            {i.title ? <div className="muted">{resourceName(i.resource)}</div> : null}
            <WhoAndWhat entities={i.entities ?? []} />
          </td>
          <td>{i.alertCount}</td>
          <td>{[...new Set(i.alerts.map((a) => a.source).filter(Boolean))].map(sourceName).join(', ') || '—'}</td>
          <td><Tactics tactics={i.tactics} /></td>
          <td><When at={i.lastSeen} /></td>
          <td><StatusBadge status={i.status ?? 'active'} /></td>
        </tr>
      ))}</tbody>
    </table>
  );
}

export function IncidentsPage() {
  const path = usePath();
  const params = useMemo(() => new URLSearchParams(path.split('?')[1] ?? ''), [path]);
  const status = params.get('status') ?? '';
  const cluster = params.get('cluster') ?? '';
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const live = useLive();
  // Reloaded as alerts arrive live: a new alert may join or open an incident.
  const incidents = useLoad(() => api<Page<Incident>>(`/incidents${query({ status, cluster, cursor, limit: 25 })}`), `${status}-${cluster}-${cursor}-${live.alerts.length}`);
  const [clusterInput, setClusterInput] = useState(cluster);
  return (
    <>
      <h1>Incidents</h1>
      <p className="muted">Alerts from every source (audit log, node agents, registry scans, admission) on connected resources, taken together: the same pod, its containers, its owner, the image it runs.</p>
      <form className="filters" aria-label="Filter incidents" onSubmit={(e) => { e.preventDefault(); setCursors([]); navigate(`/incidents${query({ status, cluster: clusterInput.trim() })}`); }}>
        <label>Status
          <select value={status} onChange={(e) => { setCursors([]); navigate(`/incidents${query({ status: e.target.value, cluster })}`); }}>
            <option value="">active</option><option value="resolved">resolved</option><option value="dismissed">dismissed</option><option value="active,resolved,dismissed">any</option>
          </select>
        </label>
        <label>Cluster <input value={clusterInput} onChange={(e) => setClusterInput(e.target.value)} /></label>
        <button type="submit">Apply filters</button>
      </form>
      <Card title="Incidents, newest first" id="incidents">
        <Loadable state={incidents} what="Incidents" empty={(p) => p.items.length === 0}>
          {(p) => (
            <>
              <IncidentTable items={p.items} />
              <div className="pager">
                {cursors.length ? <button type="button" onClick={() => setCursors((c) => c.slice(0, -1))}>Previous incidents</button> : null}
                {p.next ? <button type="button" onClick={() => setCursors((c) => [...c, p.next!])}>Next incidents</button> : null}
              </div>
            </>
          )}
        </Loadable>
      </Card>
    </>
  );
}

const ENTITY_ORDER = ['user', 'cluster', 'namespace', 'workload', 'pod', 'container', 'image', 'finding', 'node', 'serviceaccount'];
const ENTITY_LABEL: Record<string, string> = { serviceaccount: 'service account' };

function Entities({ entities }: { entities: Entity[] }) {
  const byKind = new Map<string, Entity[]>();
  for (const e of [...entities].sort((a, b) => ENTITY_ORDER.indexOf(a.kind) - ENTITY_ORDER.indexOf(b.kind))) byKind.set(e.kind, [...(byKind.get(e.kind) ?? []), e]);
  if (!byKind.size) return <p className="muted">No entities named.</p>;
  return (
    <dl aria-label="Entities">
      {[...byKind].map(([kind, list]) => (
        <div key={kind} className="entity">
          <dt>{ENTITY_LABEL[kind] ?? kind}</dt>
          <dd>{list.map((e, i) => <span key={e.id}>{i ? ', ' : ''}<EntityName entity={e} /></span>)}</dd>
        </div>
      ))}
    </dl>
  );
}

export function IncidentDetailPage({ id }: { id: string }) {
  const incident = useLoad(() => api<IncidentDetail>(`/incidents/${encodeURIComponent(id)}`), id);
  return (
    <>
      <p><Link to="/incidents">← All incidents</Link></p>
      <Loadable state={incident} what="Incident">
        {(i) => {
          const reasons = new Map(i.alerts.map((a) => [a.id, a]));
          return (
            <>
              <h1>{i.title ?? resourceName(i.resource)}</h1>
              <p><SeverityBadge severity={i.severity} /> <StatusBadge status={i.status ?? 'active'} /> <span className="muted">{i.alertCount} alerts from <When at={i.firstSeen} /> to <When at={i.lastSeen} /></span></p>
              <div className="grid">
                <Card title="Tactics, in kill-chain order" id="tactics"><Tactics tactics={i.tactics} /></Card>
                <Card title="Entities" id="entities"><Entities entities={i.entities ?? []} /></Card>
              </div>
              <Card title="Timeline, oldest first" id="timeline">
                {i.timeline.length ? (
                  <table>
                    <thead><tr><th scope="col">When</th><th scope="col">Source</th><th scope="col">Tactic</th><th scope="col">Alert</th><th scope="col">Why it is part of this incident</th></tr></thead>
                    <tbody>{i.timeline.map((t) => {
                      const alert = reasons.get(t.alertId);
                      return (
                        <tr key={`${t.alertId}-${t.at}`}>
                          <td><When at={t.at} /></td>
                          <td>{sourceName(t.source)}</td>
                          <td>{t.tactic}</td>
                          <td>{alert ? <SeverityBadge severity={alert.severity} /> : null} <Link to={`/alerts/${encodeURIComponent(t.alertId)}`}>{t.title}</Link></td>
                          <td className="wrap">{alert?.joinedBecause ?? <span className="muted">—</span>}</td>
                        </tr>
                      );
                    })}</tbody>
                  </table>
                ) : <Empty title="No alerts in this incident's timeline" />}
              </Card>
            </>
          );
        }}
      </Loadable>
    </>
  );
}
