import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentRuleEngine, loadAgentRules, sampleEvent, type AgentBatch } from '../../src/agent/index.js';
import { loadConfig } from '../../src/core/index.js';
import { runServer, type RunningProcess } from '../../src/server/index.js';
import { openStore } from '../../src/store/index.js';
import { importOsv } from '../../src/vulndb/index.js';
import { fixture, fixturesAvailable } from '../support/fixtures.js';
import { jsonOf } from '../support/http.js';
import { createTestPostgres, postgresAvailable, type TestPostgres } from '../support/postgres.js';
import { STORE_BACKENDS, type StoreBackend } from '../support/store.js';
import { registryAvailable, startRegistry, type LocalRegistry } from '../registry/registry.js';

const ready = fixturesAvailable() && registryAvailable();
const pgReady = await postgresAvailable();

interface Incident {
  id: string; title: string; status: string; severity: string; tactics: string[]; alertCount: number;
  resource: { kind: string; id: string };
  alerts: { id: string; title: string; source: string; joinedBecause: string }[];
  entities: { kind: string; id: string; name: string }[];
  timeline?: { at: string; alertId: string; title: string; tactic: string; source: string }[];
}

/** A webhook receiver: every notification body it was sent. */
async function startReceiver() {
  const received: { alerts: { id: string }[] }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      received.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/**
 * The end-to-end example, with the real parts: a real docker-registry receives the image
 * (skopeo) and Palisade scans it; alice creates a privileged pod running it (audit webhook, as the
 * API server sends it); a miner starts in its container (an agent batch as the agent builds it
 * after kubelet resolution: container id, pod, namespace, pod uid, image). One incident names
 * the user, the pod, the container, the image digest and the finding, and the notification channel
 * hears of it once.
 */
describe.skipIf(!ready).each(STORE_BACKENDS.filter((b) => b === 'pglite' || pgReady))('one incident across audit, agent and registry (%s)', (backend: StoreBackend) => {
  let dir: string;
  let pg: TestPostgres | undefined;
  let server: RunningProcess;
  let registry: LocalRegistry;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let admin: string;
  let clusterToken: string;
  let digest: string;
  const api = (url: string, init: RequestInit = {}, token = admin) => fetch(`${server.url}${url}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), `palisade-graph-e2e-${backend}-`));
    pg = backend === 'postgres' ? await createTestPostgres() : undefined;
    const location = pg ? { databaseUrl: pg.url } : { dataDir: path.join(dir, 'data') };
    const store = await openStore(location);
    await importOsv(store, [fixture('osv', 'debian'), fixture('osv', 'npm')]);
    await store.close();
    const printed: string[] = [];
    server = await runServer(loadConfig({ env: {}, cwd: dir, flags: { ...location, port: 0, logLevel: process.env.TEST_LOG_LEVEL ?? 'warn' } }), { print: (l) => printed.push(l) });
    admin = /pal_[\w-]+/.exec(printed.join('\n'))![0];
    const registryToken = (await jsonOf(api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ scope: 'registry:local' }) }))).secret as string;
    clusterToken = (await jsonOf(api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ scope: 'cluster:prod' }) }))).secret as string;
    registry = await startRegistry({ notifications: { url: `${server.url}/ingest/registry/local`, token: registryToken } });
    expect((await api('/api/v1/registries', { method: 'POST', body: JSON.stringify({ name: 'local', url: registry.url, kind: 'distribution' }) })).status).toBe(201);
    receiver = await startReceiver();
  }, 180_000);

  afterAll(async () => {
    await receiver?.close();
    await registry?.stop();
    await server?.stop().catch(() => {});
    await pg?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('joins the privileged pod, the miner in its container and the image\'s finding into one incident, announced once', async () => {
    // 1. The image arrives and is scanned: its critical and high findings raise a registry alert.
    await registry.push(`oci:${fixture('images', 'debian12')}:app`, 'shop/miner:1');
    digest = await waitFor('the scan', async () => {
      const items = (await jsonOf(api('/api/v1/images?repository=shop/miner'))).items as { digest: string; lastScanned: string | null }[];
      return items[0]?.lastScanned ? items[0].digest : undefined;
    });
    const registryAlert = await waitFor('the registry alert', async () => (await jsonOf(api('/api/v1/alerts?source=registry'))).items[0] as { id: string; resource: { id: string } } | undefined);
    expect(registryAlert.resource.id).toBe(`local/shop/miner@${digest}`);

    // Notifications from now on: the channel hears of the incident, not of each alert.
    expect((await api('/api/v1/notifications/channels', { method: 'POST', body: JSON.stringify({ name: 'siem', kind: 'webhook', settings: { url: receiver.url, secret: 'a-webhook-secret-0123456789' }, minSeverity: 'low' }) })).status).toBe(201);

    // 2. alice creates a privileged pod that runs the image by tag.
    const image = `${registry.host}/shop/miner:1`;
    const podUid = randomUUID();
    const now = new Date();
    const pod = {
      kind: 'Pod', apiVersion: 'v1',
      metadata: { name: 'miner-1', namespace: 'shop', uid: podUid, labels: { app: 'miner' } },
      spec: { serviceAccountName: 'default', nodeName: 'worker-1', containers: [{ name: 'miner', image, securityContext: { privileged: true } }] },
      status: { phase: 'Pending' },
    };
    const audit = await fetch(`${server.url}/ingest/audit`, {
      method: 'POST', headers: { authorization: `Bearer ${clusterToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [{
        kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'RequestResponse', auditID: randomUUID(), stage: 'ResponseComplete',
        requestURI: '/api/v1/namespaces/shop/pods?fieldManager=kubectl-client-side-apply', verb: 'create',
        user: { username: 'alice@example.com', groups: ['system:authenticated'] }, sourceIPs: ['198.51.100.7'], userAgent: 'kubectl/v1.31.0 (linux/amd64)',
        objectRef: { resource: 'pods', namespace: 'shop', name: 'miner-1', apiVersion: 'v1' },
        responseStatus: { metadata: {}, code: 201 },
        requestObject: { ...pod, metadata: { name: 'miner-1', namespace: 'shop', labels: { app: 'miner' } }, status: undefined },
        responseObject: pod,
        requestReceivedTimestamp: now.toISOString(), stageTimestamp: now.toISOString(),
      }] }),
    });
    expect(audit.status, await audit.clone().text()).toBe(200);
    expect((await jsonOf(audit)).alerts).toBeGreaterThan(0);

    // 3. The agent on worker-1 sees xmrig start in that container, resolved through the kubelet.
    const containerId = 'c0ffee' + '0'.repeat(58);
    const engine = new AgentRuleEngine(loadAgentRules());
    const events = [sampleEvent({
      kind: 'exec', at: new Date(now.getTime() + 30_000).toISOString(),
      process: { name: 'xmrig', exe: '/tmp/xmrig', argv: ['./xmrig', '-o', 'pool.example:3333'] },
      container: { id: containerId, runtime: 'containerd', name: 'miner', pod: 'miner-1', namespace: 'shop', podUid, image },
    })];
    const batch: AgentBatch = { batchId: randomUUID(), sentAt: new Date().toISOString(), node: { name: 'worker-1', cores: 4, runtime: 'containerd' }, events, alerts: events.flatMap((e) => engine.evaluate('worker-1', e)) };
    expect(batch.alerts.length).toBeGreaterThan(0);
    const agent = await fetch(`${server.url}/ingest/agent`, { method: 'POST', headers: { authorization: `Bearer ${clusterToken}`, 'content-type': 'application/json' }, body: JSON.stringify(batch) });
    expect(agent.status, await agent.clone().text()).toBe(200);

    // 4. One incident.
    const { items } = await jsonOf(api('/api/v1/incidents')) as { items: Incident[] };
    expect(items).toHaveLength(1);
    const [incident] = items;
    // The privileged pod raises more than one audit rule; every alert of the three sources is here.
    const auditAlerts = (await jsonOf(api('/api/v1/alerts?source=audit'))).items.filter((a: { severity: string }) => a.severity !== 'informational') as { id: string; title: string }[];
    expect(auditAlerts.map((a) => a.title)).toContain('Privileged container created');
    const agentAlerts = (await jsonOf(api('/api/v1/alerts?source=agent'))).items as { id: string }[];
    expect(agentAlerts).toHaveLength(1);
    expect(incident!.alerts.map((a) => a.id).sort()).toEqual([...auditAlerts.map((a) => a.id), agentAlerts[0]!.id, registryAlert.id].sort());
    expect(incident).toMatchObject({ status: 'active', resource: { kind: 'pod', id: 'prod/shop/pod/miner-1' } });
    const named = (kind: string) => incident!.entities.filter((e) => e.kind === kind);
    expect(named('user').map((e) => e.name)).toEqual(['alice@example.com']);
    expect(named('pod').map((e) => e.id)).toEqual(['prod/shop/pod/miner-1']);
    expect(named('container')).toEqual([{ kind: 'container', id: containerId, name: 'miner-1/miner' }]);
    expect(named('image').map((e) => e.id)).toEqual([digest]);
    expect(named('finding').length).toBeGreaterThan(0);
    expect(named('finding').every((f) => f.id.startsWith(`${digest}/`))).toBe(true);
    expect(named('node').map((e) => e.name)).toEqual(['worker-1']);
    const reasons = Object.fromEntries(incident!.alerts.map((a) => [a.source, a.joinedBecause]));
    expect(reasons.agent).toMatch(/^container of pod miner-1, where ".+" was raised$/);
    expect(reasons.registry).toBe(`image ${digest.slice(0, 19)}… runs in pod miner-1`);
    // Kill-chain order: the image's Initial Access first, the miner's Impact last.
    expect(incident!.tactics[0]).toBe('Initial Access');
    expect(incident!.tactics).toContain('Privilege Escalation');
    expect(incident!.tactics[incident!.tactics.length - 1]).toBe('Impact');

    // Every alert names the identities it concerns, from the graph.
    const agentListed = (await jsonOf(api('/api/v1/alerts?source=agent'))).items[0] as { entities: { kind: string; id: string; name: string }[] };
    expect(agentListed.entities).toEqual(expect.arrayContaining([
      { kind: 'pod', id: 'prod/shop/pod/miner-1', name: 'miner-1' },
      { kind: 'container', id: containerId, name: 'miner-1/miner' },
      { kind: 'image', id: digest, name: digest },
      { kind: 'node', id: 'prod/worker-1', name: 'worker-1' },
    ]));
    const auditDetail = await jsonOf(api(`/api/v1/alerts/${auditAlerts[0]!.id}`)) as { entities: { kind: string; id: string; name: string }[] };
    expect(auditDetail.entities.filter((e) => e.kind === 'user').map((e) => e.name)).toEqual(['alice@example.com']);
    expect(auditDetail.entities.filter((e) => e.kind === 'image').map((e) => e.id)).toEqual([digest]);
    const registryDetail = await jsonOf(api(`/api/v1/alerts/${registryAlert.id}`)) as { entities: { kind: string; id: string }[] };
    expect(registryDetail.entities).toEqual([{ kind: 'image', id: digest, name: digest }]);

    // The image's findings say where it runs (the pod names it by tag; the registry says the tag is this digest).
    const findings = await jsonOf(api(`/api/v1/images/${digest}/findings?limit=1`)) as { runningIn: unknown[] };
    expect(findings.runningIn).toEqual([{ cluster: 'prod', namespace: 'shop', workload: null, pod: 'miner-1', container: 'miner', podId: 'prod/shop/pod/miner-1' }]);

    const detail = await jsonOf(api(`/api/v1/incidents/${incident!.id}`)) as Incident;
    expect(detail.timeline!.map((e) => e.source)).toEqual(['registry', ...auditAlerts.map(() => 'audit'), 'agent']);
    expect(detail.entities).toEqual(incident!.entities);

    // 5. Announced once: the audit alert carries the incident, the miner's alert is merged into it.
    const expected = auditAlerts.length + 1;
    const deliveries = await waitFor('the dispatcher', async () => {
      const rows = (await jsonOf(api('/api/v1/notifications/deliveries'))).items as { alertId: string; status: string; lastError: string | null }[];
      return rows.length === expected && rows.every((r) => r.status !== 'pending') ? rows : undefined;
    }, 60_000);
    const sent = deliveries.filter((d) => d.status === 'sent');
    expect(sent).toHaveLength(1);
    expect(auditAlerts.map((a) => a.id)).toContain(sent[0]!.alertId);
    const merged = deliveries.filter((d) => d.status === 'merged');
    expect(merged.map((d) => d.alertId).sort()).toEqual([...auditAlerts.map((a) => a.id), agentAlerts[0]!.id].filter((id) => id !== sent[0]!.alertId).sort());
    expect(merged.every((d) => d.lastError === `part of incident ${incident!.id}, announced with alert ${sent[0]!.alertId}`)).toBe(true);
    expect(receiver.received.flatMap((r) => r.alerts.map((a) => a.id))).toEqual([sent[0]!.alertId]);
  }, 240_000);

  it('answers an unknown incident with 404 and a malformed id with 400', async () => {
    const missing = await api('/api/v1/incidents/inc_00000000000000000000');
    expect(missing.status).toBe(404);
    expect((await jsonOf(missing)).message).toBe('no incident inc_00000000000000000000');
    expect((await api('/api/v1/incidents/nope')).status).toBe(400);
    expect((await api('/api/v1/incidents?status=bogus')).status).toBe(400);
    expect((await fetch(`${server.url}/api/v1/incidents`)).status).toBe(401);
  });
});
