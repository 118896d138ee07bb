import { api, type Page } from '../api.js';
import { Card, Loadable, When } from '../components.js';
import { useLoad } from '../hooks.js';
import { Link, usePath } from '../router.js';

interface Cluster { id: string; name: string; createdAt: string; lastEventAt: string | null }
interface Node { id: string; cluster: string; name: string; cores: number | null; kernel: string | null; os: string | null; runtime: string | null; agentVersion: string | null; lastHeartbeat: string | null }
interface Registry { id: string; name: string; url: string; kind: string; createdAt: string }
interface Repository { id: string; registry: string; name: string; images: number; lastPushed: string | null; lastPulled: string | null; lastScanned: string | null }
interface RunningImage { cluster: string; namespace: string; pod: string; container: string; image: string; digest?: string; scanned: boolean; critical: number; high: number; medium: number }

function scanSummary(r: RunningImage): string {
  if (!r.digest) return 'no digest reported';
  if (!r.scanned) return 'not scanned';
  return r.critical + r.high + r.medium === 0 ? 'no serious findings' : `${r.critical} critical, ${r.high} high, ${r.medium} medium`;
}

export function InventoryPage() {
  // `?node=NAME`: the node an alert's evidence links to, shown alone until "all nodes".
  const node = new URLSearchParams(usePath().split('?')[1] ?? '').get('node');
  const clusters = useLoad(() => api<Page<Cluster>>('/clusters?limit=500'), 'clusters');
  const nodes = useLoad(() => api<Page<Node>>('/nodes?limit=500'), 'nodes');
  const registries = useLoad(() => api<Page<Registry>>('/registries?limit=500'), 'registries');
  const repositories = useLoad(() => api<Page<Repository>>('/repositories?limit=500'), 'repositories');
  const running = useLoad(() => api<Page<RunningImage>>('/running-images?limit=500'), 'running-images');
  return (
    <>
      <h1>Inventory</h1>
      <Card title="Clusters">
        <Loadable state={clusters} what="Clusters" empty={(p) => p.items.length === 0}>
          {(p) => (
            <table>
              <thead><tr><th scope="col">Name</th><th scope="col">Connected</th><th scope="col">Last audit event</th></tr></thead>
              <tbody>{p.items.map((c) => <tr key={c.id}><td>{c.name}</td><td><When at={c.createdAt} /></td><td><When at={c.lastEventAt} /></td></tr>)}</tbody>
            </table>
          )}
        </Loadable>
      </Card>
      <Card title={node ? `Node ${node}` : 'Nodes'} id="nodes">
        {node ? <p><Link to="/inventory">Show all nodes</Link></p> : null}
        <Loadable state={nodes} what="Nodes" empty={(p) => p.items.length === 0}>
          {(p) => (
            <table>
              <thead><tr><th scope="col">Cluster</th><th scope="col">Node</th><th scope="col">Cores</th><th scope="col">OS / kernel</th><th scope="col">Runtime</th><th scope="col">Agent version</th><th scope="col">Last heartbeat</th></tr></thead>
              <tbody>{p.items.filter((n) => !node || n.name === node).map((n) => <tr key={n.id}><td>{n.cluster}</td><td>{n.name}</td><td>{n.cores ?? '—'}</td><td>{[n.os, n.kernel].filter(Boolean).join(' / ') || '—'}</td><td>{n.runtime ?? '—'}</td><td>{n.agentVersion ?? <span className="muted">no agent</span>}</td><td><When at={n.lastHeartbeat} /></td></tr>)}</tbody>
            </table>
          )}
        </Loadable>
      </Card>
      <Card title="Images in use">
        <Loadable state={running} what="Images in use" empty={(p) => p.items.length === 0}>
          {(p) => (
            <table>
              <thead><tr><th scope="col">Cluster</th><th scope="col">Namespace</th><th scope="col">Pod</th><th scope="col">Container</th><th scope="col">Image</th><th scope="col">Vulnerabilities</th></tr></thead>
              <tbody>{p.items.map((r) => <tr key={`${r.cluster}/${r.namespace}/${r.pod}/${r.container}`}><td>{r.cluster}</td><td>{r.namespace}</td><td>{r.pod}</td><td>{r.container}</td><td>{r.image}</td><td>{scanSummary(r)}</td></tr>)}</tbody>
            </table>
          )}
        </Loadable>
      </Card>
      <Card title="Registries">
        <Loadable state={registries} what="Registries" empty={(p) => p.items.length === 0}>
          {(p) => (
            <table>
              <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">URL</th><th scope="col">Connected</th></tr></thead>
              <tbody>{p.items.map((r) => <tr key={r.id}><td>{r.name}</td><td>{r.kind}</td><td>{r.url}</td><td><When at={r.createdAt} /></td></tr>)}</tbody>
            </table>
          )}
        </Loadable>
      </Card>
      <Card title="Repositories">
        <Loadable state={repositories} what="Repositories" empty={(p) => p.items.length === 0}>
          {(p) => (
            <table>
              <thead><tr><th scope="col">Registry</th><th scope="col">Repository</th><th scope="col">Images</th><th scope="col">Last pushed</th><th scope="col">Last pulled</th><th scope="col">Last scanned</th></tr></thead>
              <tbody>{p.items.map((r) => <tr key={r.id}><td>{r.registry}</td><td>{r.name}</td><td>{r.images}</td><td><When at={r.lastPushed} /></td><td><When at={r.lastPulled} /></td><td><When at={r.lastScanned} /></td></tr>)}</tbody>
            </table>
          )}
        </Loadable>
      </Card>
    </>
  );
}
