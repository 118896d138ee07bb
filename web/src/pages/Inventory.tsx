import { api, type Page } from '../api.js';
import { Card, Loadable, When } from '../components.js';
import { useLoad } from '../hooks.js';

interface Cluster { id: string; name: string; createdAt: string; lastEventAt: string | null }
interface Node { id: string; cluster: string; name: string; cores: number | null; kernel: string | null; os: string | null; runtime: string | null; agentVersion: string | null; lastHeartbeat: string | null }
interface Registry { id: string; name: string; url: string; kind: string; createdAt: string }

export function InventoryPage() {
  const clusters = useLoad(() => api<Page<Cluster>>('/clusters?limit=500'), 'clusters');
  const nodes = useLoad(() => api<Page<Node>>('/nodes?limit=500'), 'nodes');
  const registries = useLoad(() => api<Page<Registry>>('/registries?limit=500'), 'registries');
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
      <Card title="Nodes">
        <Loadable state={nodes} what="Nodes" empty={(p) => p.items.length === 0}>
          {(p) => (
            <table>
              <thead><tr><th scope="col">Cluster</th><th scope="col">Node</th><th scope="col">Cores</th><th scope="col">OS / kernel</th><th scope="col">Runtime</th><th scope="col">Agent version</th><th scope="col">Last heartbeat</th></tr></thead>
              <tbody>{p.items.map((n) => <tr key={n.id}><td>{n.cluster}</td><td>{n.name}</td><td>{n.cores ?? '—'}</td><td>{[n.os, n.kernel].filter(Boolean).join(' / ') || '—'}</td><td>{n.runtime ?? '—'}</td><td>{n.agentVersion ?? <span className="muted">no agent</span>}</td><td><When at={n.lastHeartbeat} /></td></tr>)}</tbody>
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
    </>
  );
}
