import { useMemo, useState } from 'react';
import { api, query, type Page } from '../api.js';
import { Card, Loadable, SeverityBadge } from '../components.js';
import { entityLink } from '../entities.js';
import { useLoad } from '../hooks.js';
import { Link, navigate, usePath } from '../router.js';

/** GET /api/v1/attack-paths items (contract of #18). */
export interface AttackPath {
  id: string;
  cluster: string;
  severity: 'critical' | 'high' | 'medium' | 'low';
  score: number;
  title: string;
  hops: { id: string; kind: string; name: string }[];
  edges: { from: string; to: string; label: string; evidence: string }[];
  fix: { hopId: string; text: string; command?: string };
}

const KIND_LABEL: Record<string, string> = { serviceaccount: 'service account', internet: 'internet' };
/** One colour per kind of hop, so a path reads at a glance: exposure, workload, image, identity, host. */
const KIND_COLOUR: Record<string, string> = {
  internet: '#8b0000', ingress: '#b35900', service: '#b35900', workload: '#0b5cad', pod: '#0b5cad', container: '#0b5cad',
  image: '#6b3fa0', serviceaccount: '#1f6f50', permission: '#1f6f50', node: '#444c56',
};

// The picture's geometry: hops top to bottom, each edge's label to the right of its arrow, where
// it has the width a CVE with its fix or an RBAC permission needs.
const BOX_W = 300;
const BOX_H = 46;
const GAP = 64;
const LEFT = 40;
const LABEL_X = LEFT + BOX_W / 2 + 16;
const WIDTH = 900;
const MAX_LABEL_CHARS = 70;

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/**
 * One attack path drawn as a picture: hops as boxes from the entry point down to what the attacker
 * reaches, each arrow labelled with the finding or permission that lets them through; the hop the
 * cheapest fix changes is outlined. Every label is also in the list below the picture, for screen
 * readers and for copying.
 */
export function AttackPathPicture({ path }: { path: AttackPath }) {
  const index = new Map(path.hops.map((h, i) => [h.id, i]));
  const height = path.hops.length * BOX_H + (path.hops.length - 1) * GAP + 20;
  const top = (i: number) => 10 + i * (BOX_H + GAP);
  const centreX = LEFT + BOX_W / 2;
  const summary = path.hops.map((h) => `${KIND_LABEL[h.kind] ?? h.kind} ${h.name}`).join(', then ');
  return (
    <svg className="attack-path" viewBox={`0 0 ${WIDTH} ${height}`} width={WIDTH} height={height} role="img" aria-label={`Attack path: ${summary}`}>
      <defs>
        <marker id={`arrow-${path.id}`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" fill="#57606a" />
        </marker>
      </defs>
      {path.edges.map((e, n) => {
        const from = index.get(e.from);
        const to = index.get(e.to);
        if (from === undefined || to === undefined) return null;
        const down = to > from;
        const y1 = down ? top(from) + BOX_H : top(from);
        const y2 = down ? top(to) : top(to) + BOX_H;
        const adjacent = Math.abs(to - from) === 1;
        // Edges that skip hops bend out to the left, so they do not cross the boxes between.
        const d = adjacent ? `M ${centreX} ${y1} L ${centreX} ${y2}` : `M ${LEFT} ${top(from) + BOX_H / 2} C ${LEFT - 36} ${top(from) + BOX_H / 2}, ${LEFT - 36} ${top(to) + BOX_H / 2}, ${LEFT} ${top(to) + BOX_H / 2}`;
        const labelY = adjacent ? (y1 + y2) / 2 + 4 : (top(from) + top(to)) / 2 + BOX_H / 2;
        return (
          <g key={n} className="edge" data-from={e.from} data-to={e.to}>
            <path d={d} fill="none" stroke="#57606a" strokeWidth="2" markerEnd={`url(#arrow-${path.id})`} />
            <text x={LABEL_X} y={labelY} className="edge-label">{clip(e.label, MAX_LABEL_CHARS)}<title>{`${e.label}: ${e.evidence}`}</title></text>
          </g>
        );
      })}
      {path.hops.map((h, i) => {
        const fix = h.id === path.fix.hopId;
        const colour = KIND_COLOUR[h.kind] ?? '#444c56';
        return (
          <g key={h.id} className={`hop${fix ? ' fix' : ''}`} data-hop={h.id}>
            <rect x={LEFT} y={top(i)} width={BOX_W} height={BOX_H} rx="6" fill="#fff" stroke={fix ? '#c0392b' : colour} strokeWidth={fix ? 3 : 1.5} strokeDasharray={fix ? '6 3' : undefined} />
            <rect x={LEFT} y={top(i)} width="6" height={BOX_H} rx="2" fill={colour} />
            <text x={LEFT + 14} y={top(i) + 18} className="hop-kind" fill={colour}>{(KIND_LABEL[h.kind] ?? h.kind).toUpperCase()}</text>
            <text x={LEFT + 14} y={top(i) + 36} className="hop-name">{clip(h.name, 40)}<title>{h.name}</title></text>
            {fix ? <text x={LEFT + BOX_W - 8} y={top(i) + 18} textAnchor="end" className="fix-mark" fill="#c0392b">fix here</text> : null}
          </g>
        );
      })}
    </svg>
  );
}

/** Where a hop leads in the dashboard (an image to its findings, a node to the inventory), if anywhere. */
function hopLink(hop: AttackPath['hops'][number]): string | undefined {
  if (hop.kind === 'permission' || hop.kind === 'internet' || hop.kind === 'ingress' || hop.kind === 'service') return undefined;
  return entityLink(hop);
}

function AttackPathCard({ path }: { path: AttackPath }) {
  const fixHop = path.hops.find((h) => h.id === path.fix.hopId);
  const name = new Map(path.hops.map((h) => [h.id, h.name]));
  const fixLink = fixHop ? hopLink(fixHop) : undefined;
  return (
    <Card title={path.title} id={`path-${path.id.replace(/\W+/g, '-')}`}>
      <p><SeverityBadge severity={path.severity} /> <span className="muted">cluster {path.cluster}, risk score {path.score}</span> <Link to={`/attack-paths/${encodeURIComponent(path.id)}`}>link to this path</Link></p>
      <AttackPathPicture path={path} />
      <div className="fix-box" role="note" aria-label="Cheapest fix">
        <strong>Cheapest fix that breaks this path</strong>{fixHop ? <> (at {KIND_LABEL[fixHop.kind] ?? fixHop.kind} {fixLink ? <Link to={fixLink}>{fixHop.name}</Link> : fixHop.name})</> : null}
        <p className="wrap">{path.fix.text}</p>
        {path.fix.command ? <pre tabIndex={0} aria-label="Command that applies the fix"><code>{path.fix.command}</code></pre> : null}
      </div>
      <details>
        <summary>Each step and its evidence ({path.edges.length})</summary>
        <ol className="steps">
          {path.edges.map((e, i) => <li key={i}><strong>{name.get(e.from) ?? e.from} → {name.get(e.to) ?? e.to}</strong>: {e.label}<div className="muted wrap">{e.evidence}</div></li>)}
        </ol>
      </details>
    </Card>
  );
}

export function AttackPathsPage() {
  const route = usePath();
  const params = useMemo(() => new URLSearchParams(route.split('?')[1] ?? ''), [route]);
  const cluster = params.get('cluster') ?? '';
  const [clusterInput, setClusterInput] = useState(cluster);
  const paths = useLoad(() => api<Page<AttackPath>>(`/attack-paths${query({ cluster })}`), `paths-${cluster}`);
  return (
    <>
      <h1>Attack paths</h1>
      <p className="muted">Routes an attacker could take from the internet to your nodes and secrets: an exposed workload, an exploitable vulnerability in its image, a service account with dangerous permissions. Worst first; each shows the one change that breaks it most cheaply.</p>
      <form className="filters" aria-label="Filter attack paths" onSubmit={(e) => { e.preventDefault(); navigate(`/attack-paths${query({ cluster: clusterInput.trim() })}`); }}>
        <label>Cluster <input value={clusterInput} onChange={(e) => setClusterInput(e.target.value)} /></label>
        <button type="submit">Apply filters</button>
      </form>
      <Loadable state={paths} what="Attack paths" empty={(p) => p.items.length === 0}>
        {(p) => <>{p.items.map((path) => <AttackPathCard key={path.id} path={path} />)}</>}
      </Loadable>
    </>
  );
}

export function AttackPathDetailPage({ id }: { id: string }) {
  const path = useLoad(() => api<AttackPath>(`/attack-paths/${encodeURIComponent(id)}`), id);
  return (
    <>
      <p><Link to="/attack-paths">← All attack paths</Link></p>
      <h1>Attack path</h1>
      <Loadable state={path} what="Attack path">{(p) => <AttackPathCard path={p} />}</Loadable>
    </>
  );
}
