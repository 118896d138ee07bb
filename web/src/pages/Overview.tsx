import { api, SEVERITIES, type Severity } from '../api.js';
import { Card, Empty, Loadable, SeverityBadge, When } from '../components.js';
import { useLoad } from '../hooks.js';
import { useLive } from '../App.js';
import { Link } from '../router.js';

interface Overview {
  alerts: { activeBySeverity: Record<Severity, number>; perDay: { day: string; count: number }[]; total: number };
  topRecommendations: { policy: string; scope: string; title: string; severity: string; unhealthy: number }[];
  vulnerableImages: { digest: string; registry: string | null; repository: string | null; tags: string[]; critical: number; high: number }[];
  coverage: {
    clusters: { name: string; plan: boolean; nodes: number; agentsReporting: number; lastEventAt: string | null; lastHeartbeat: string | null }[];
    registries: { name: string; plan: boolean; images: number; lastPushed: string | null; lastScanned: string | null }[];
    lastAlertBySource: Record<string, string>;
  };
}
interface Score { current?: { percentage: number; score: number; maxScore: number; day: string }; history: { day: string; percentage: number }[] }

/** Chart frame: the plot sits right of the y-axis labels and above the x-axis dates. */
const PLOT = { left: 34, top: 6, width: 280, height: 80 };
const VIEW = `0 0 ${PLOT.left + PLOT.width + 6} ${PLOT.top + PLOT.height + 22}`;
/** `2026-03-04` → `4 Mar`, in the reader's language. */
const shortDay = (day: string): string => new Date(`${day}T00:00:00Z`).toLocaleDateString(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' });

/** Axes with a label at each end of both: the reader sees what the height means and which days. */
function Axes({ yMax, yLabel, first, last }: { yMax: string; yLabel: string; first: string; last: string }) {
  const bottom = PLOT.top + PLOT.height;
  return (
    <g className="axes" aria-hidden="true">
      <line x1={PLOT.left} y1={PLOT.top} x2={PLOT.left} y2={bottom} />
      <line x1={PLOT.left} y1={bottom} x2={PLOT.left + PLOT.width} y2={bottom} />
      <text x={PLOT.left - 4} y={PLOT.top + 8} textAnchor="end">{yMax}</text>
      <text x={PLOT.left - 4} y={bottom} textAnchor="end">0</text>
      <text x={PLOT.left - 4} y={PLOT.top + PLOT.height / 2 + 4} textAnchor="end">{yLabel}</text>
      <text x={PLOT.left} y={bottom + 16} textAnchor="start">{shortDay(first)}</text>
      <text x={PLOT.left + PLOT.width} y={bottom + 16} textAnchor="end">{shortDay(last)}</text>
    </g>
  );
}

function Bars({ points, label }: { points: { day: string; count: number }[]; label: string }) {
  const max = Math.max(1, ...points.map((p) => p.count));
  const slot = PLOT.width / Math.max(1, points.length);
  return (
    <svg role="img" aria-label={`${label}: ${points.map((p) => `${p.day} ${p.count}`).join(', ')}`} viewBox={VIEW} className="chart">
      <Axes yMax={String(max)} yLabel="" first={points[0]!.day} last={points.at(-1)!.day} />
      {points.map((p, i) => {
        const height = (p.count / max) * PLOT.height;
        return (
          <rect key={p.day} x={PLOT.left + i * slot + 1} y={PLOT.top + PLOT.height - height} width={Math.max(1, slot - 2)} height={Math.max(p.count ? 1 : 0, height)}>
            <title>{`${p.day}: ${p.count}`}</title>
          </rect>
        );
      })}
    </svg>
  );
}

function Trend({ points }: { points: { day: string; percentage: number }[] }) {
  if (points.length < 2) return <p className="muted">The trend appears after a second day of scores.</p>;
  const step = PLOT.width / (points.length - 1);
  const line = points.map((p, i) => `${PLOT.left + i * step},${PLOT.top + PLOT.height - (p.percentage / 100) * PLOT.height}`).join(' ');
  return (
    <svg role="img" aria-label={`Secure score trend: ${points.map((p) => `${p.day} ${Math.round(p.percentage)}%`).join(', ')}`} viewBox={VIEW} className="chart">
      <Axes yMax="100%" yLabel="50%" first={points[0]!.day} last={points.at(-1)!.day} />
      <polyline points={line} fill="none" stroke="currentColor" strokeWidth="2" />
    </svg>
  );
}

export function OverviewPage() {
  const overview = useLoad(() => api<Overview>('/overview'), 'overview');
  const score = useLoad(() => api<Score>('/score'), 'score');
  const live = useLive();
  return (
    <>
      <h1>Overview</h1>
      {live.alerts.length ? <p role="status">{live.alerts.length} new alert{live.alerts.length === 1 ? '' : 's'} since you opened the dashboard. <Link to="/alerts">See security alerts</Link>.</p> : null}
      <div className="grid">
        <Card title="Secure score">
          <Loadable state={score} what="Secure score">
            {(s) => s.current ? (
              <>
                <p className="big" aria-label={`Secure score ${Math.round(s.current.percentage)} percent`}>{Math.round(s.current.percentage)}%</p>
                <p className="muted">{s.current.score.toFixed(1)} of {s.current.maxScore} points on {s.current.day}</p>
                <Trend points={s.history} />
              </>
            ) : <Empty title="No secure score yet">The score appears once recommendations have been evaluated.</Empty>}
          </Loadable>
        </Card>
        <Card title="Active alerts by severity">
          <Loadable state={overview} what="Alerts">
            {(o) => (
              <>
                <ul className="counts">
                  {SEVERITIES.map((s) => (
                    <li key={s}><Link to={`/alerts?severity=${s}&status=active`}><SeverityBadge severity={s} /> <strong>{o.alerts.activeBySeverity[s] ?? 0}</strong></Link></li>
                  ))}
                </ul>
                <h3>New alerts per day (last 14 days)</h3>
                {o.alerts.perDay.some((p) => p.count > 0) ? <Bars points={o.alerts.perDay} label="New alerts per day" /> : <p className="muted">No new alerts in the last 14 days.</p>}
              </>
            )}
          </Loadable>
        </Card>
        <Card title="Top recommendations">
          <Loadable state={overview} what="Recommendations">
            {(o) => o.topRecommendations.length ? (
              <ol>{o.topRecommendations.map((r) => <li key={`${r.policy}-${r.scope}`}><SeverityBadge severity={r.severity} /> {r.title} <span className="muted">({r.unhealthy} unhealthy, {r.scope})</span></li>)}</ol>
            ) : <Empty title="No unhealthy resources">Recommendations with unhealthy resources appear here.</Empty>}
          </Loadable>
        </Card>
        <Card title="Images with critical or high vulnerabilities">
          <Loadable state={overview} what="Images">
            {(o) => o.vulnerableImages.length ? (
              <table>
                <thead><tr><th scope="col">Image</th><th scope="col">Critical</th><th scope="col">High</th></tr></thead>
                <tbody>{o.vulnerableImages.map((i) => (
                  <tr key={i.digest}><td><Link to={`/images?digest=${encodeURIComponent(i.digest)}`}>{i.repository ? `${i.repository}${i.tags[0] ? `:${i.tags[0]}` : ''}` : i.digest.slice(0, 19)}</Link></td><td>{i.critical}</td><td>{i.high}</td></tr>
                ))}</tbody>
              </table>
            ) : <Empty title="No images with critical or high vulnerabilities" />}
          </Loadable>
        </Card>
      </div>
      <Card title="Coverage">
        <Loadable state={overview} what="Coverage">
          {(o) => (
            <>
              <h3>Clusters</h3>
              {o.coverage.clusters.length ? (
                <table>
                  <thead><tr><th scope="col">Cluster</th><th scope="col">Kubernetes plan</th><th scope="col">Nodes</th><th scope="col">Agents reporting</th><th scope="col">Last audit event</th></tr></thead>
                  <tbody>{o.coverage.clusters.map((c) => (
                    <tr key={c.name}><td>{c.name}</td><td>{c.plan ? 'On' : 'Off'}</td><td>{c.nodes}</td><td>{c.agentsReporting}</td><td><When at={c.lastEventAt} /></td></tr>
                  ))}</tbody>
                </table>
              ) : <Empty title="No clusters connected">Connect one from <Link to="/settings">Environment settings</Link>.</Empty>}
              <h3>Registries</h3>
              {o.coverage.registries.length ? (
                <table>
                  <thead><tr><th scope="col">Registry</th><th scope="col">Registries plan</th><th scope="col">Images</th><th scope="col">Last push</th><th scope="col">Last scan</th></tr></thead>
                  <tbody>{o.coverage.registries.map((r) => (
                    <tr key={r.name}><td>{r.name}</td><td>{r.plan ? 'On' : 'Off'}</td><td>{r.images}</td><td><When at={r.lastPushed} /></td><td><When at={r.lastScanned} /></td></tr>
                  ))}</tbody>
                </table>
              ) : <Empty title="No registries connected" />}
              <h3>Last alert per source</h3>
              <ul>{['audit', 'agent', 'registry', 'admission'].map((s) => <li key={s}>{s}: <When at={o.coverage.lastAlertBySource[s]} /></li>)}</ul>
            </>
          )}
        </Loadable>
      </Card>
    </>
  );
}
