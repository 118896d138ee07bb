import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentRuleEngine, loadAgentRules, sampleEvent, type AgentBatch, type AgentHealth, type HostEvent } from '../../src/agent/index.js';
import { setPlan } from '../../src/center/index.js';
import { createToken } from '../../src/store/index.js';
import { bearer, createTestApp, type TestApp } from '../support/app.js';

/** A batch built the way the agent builds one: real rule samples through the real engine. */
function batch(node: string, options: { heartbeat?: string; cores?: number; events?: HostEvent[] } = {}): AgentBatch {
  const engine = new AgentRuleEngine(loadAgentRules());
  const events = options.events ?? [
    sampleEvent({ kind: 'exec', process: { name: 'xmrig', exe: '/tmp/xmrig', argv: ['./xmrig'] }, container: { id: 'c0ffee', runtime: 'containerd', pod: 'web-1', namespace: 'shop' } }),
    sampleEvent({ kind: 'exec', process: { name: 'ls', exe: '/bin/ls', argv: ['ls'] } }),
  ];
  return {
    batchId: `b-${Math.random()}`,
    sentAt: new Date().toISOString(),
    node: { name: node, kernel: '6.1.0', os: 'Debian GNU/Linux 12 (bookworm)', cores: options.cores ?? 4, runtime: 'containerd', agentVersion: '0.1.0' },
    ...(options.heartbeat ? { heartbeat: { at: options.heartbeat } } : {}),
    events,
    alerts: events.flatMap((e) => engine.evaluate(node, e)),
  };
}

describe('POST /ingest/agent', () => {
  let t: TestApp;
  let prod: string;
  let staging: string;

  beforeAll(async () => {
    t = await createTestApp();
    prod = (await createToken(t.store.db, 'cluster:prod')).secret;
    staging = (await createToken(t.store.db, 'cluster:staging')).secret;
  }, 60_000);
  afterAll(async () => t?.close());

  it('stores events once, records alerts with the cluster, and answers duplicates on a resend', async () => {
    const body = batch('node-a', { heartbeat: new Date().toISOString() });
    const first = await t.app.inject({ method: 'POST', url: '/ingest/agent', headers: bearer(prod), payload: body });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ cluster: 'prod', node: 'node-a', events: 2, duplicates: 0, alerts: { created: 1, updated: 0 } });
    const again = await t.app.inject({ method: 'POST', url: '/ingest/agent', headers: bearer(prod), payload: body });
    expect(again.json()).toMatchObject({ events: 0, duplicates: 2, alerts: { created: 0, updated: 0 } });

    const alerts = await t.store.db.selectFrom('alerts').selectAll().where('rule', '=', 'agent.crypto-miner').execute();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ source: 'agent', cluster: 'prod', namespace: 'shop', resource_kind: 'container', resource_id: 'c0ffee', count: 1, severity: 'high', tactic: 'Impact' });
    const evidence = alerts[0]!.evidence as { node: string; processTree: { name: string }[]; event: { id: string } }[];
    expect(evidence[0]).toMatchObject({ node: 'node-a', processTree: [{ name: 'xmrig' }], event: { id: body.events[0]!.id } });
    const stored = await t.store.db.selectFrom('agent_events').select(['id', 'kind']).where('node', '=', 'node-a').execute();
    expect(stored.filter((r) => r.kind !== 'alert')).toHaveLength(2);
  });

  it('takes syscall events from the eBPF sensor and the health report in the heartbeat', async () => {
    const escape = sampleEvent({ kind: 'syscall', source: 'ebpf', call: 'mount', args: { target: '/host', fstype: 'ext4', source: '/dev/sda1' }, process: { name: 'mount', exe: '/usr/bin/mount', argv: ['mount', '/dev/sda1', '/host'] }, container: { id: 'beef01', runtime: 'containerd' } });
    const body = batch('node-e', { events: [escape] });
    const health = { sensor: 'ebpf' as const, lostEvents: 3, droppedEvents: 0, droppedByReason: { spool_full: 0, write_failed: 0 }, spoolWriteFailures: 0, spooledBatches: 0, memoryBatches: 0 };
    const r = await t.app.inject({ method: 'POST', url: '/ingest/agent', headers: bearer(prod), payload: { ...body, node: { ...body.node, sensor: 'ebpf' }, heartbeat: { at: new Date().toISOString(), ...health } } });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ events: 1, alerts: { created: 1 } });
    const alert = await t.store.db.selectFrom('alerts').selectAll().where('rule', '=', 'agent.container-escape').executeTakeFirstOrThrow();
    expect(alert).toMatchObject({ severity: 'critical', resource_id: 'beef01' });
  });

  it('upserts the node from heartbeats and meters its cores once per node-hour', async () => {
    const hour = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000); // the previous hour: all three beats are past
    for (const minute of [1, 20, 40]) {
      const at = new Date(hour.getTime() + minute * 60_000);
      const r = await t.app.inject({ method: 'POST', url: '/ingest/agent', headers: bearer(prod), payload: batch('node-b', { heartbeat: at.toISOString(), cores: 8, events: [] }) });
      expect(r.statusCode, r.body).toBe(200);
    }
    const node = await t.store.db.selectFrom('nodes').selectAll().where('name', '=', 'node-b').executeTakeFirstOrThrow();
    expect(node).toMatchObject({ cluster: 'prod', cores: 8, kernel: '6.1.0', runtime: 'containerd', agent_version: '0.1.0' });
    const usage = await t.store.db.selectFrom('usage').selectAll().where('source_key', 'like', 'agent:prod:node-b:%').execute();
    expect(usage).toHaveLength(1);
    expect(usage[0]).toMatchObject({ meter: 'core_hours', scope: 'cluster:prod', quantity: 8 });
  });

  it('stores the sensor and the loss counts each heartbeat reports, and GET /api/v1/nodes shows them; an older resent heartbeat changes nothing', async () => {
    const health = (sensor: AgentHealth['sensor'], lost: number, spoolFull: number): AgentHealth => ({
      sensor, ...(sensor === 'proc' ? { sensorReason: 'bpftrace not found' } : {}), lostEvents: lost, droppedEvents: spoolFull,
      droppedByReason: { spool_full: spoolFull, write_failed: 0 }, spoolWriteFailures: 0, spooledBatches: 0, memoryBatches: 0,
    });
    const send = async (at: Date, report: AgentHealth) => {
      const body = batch('node-h', { events: [] });
      const r = await t.app.inject({ method: 'POST', url: '/ingest/agent', headers: bearer(prod), payload: { ...body, node: { ...body.node, sensor: report.sensor }, heartbeat: { at: at.toISOString(), ...report } } });
      expect(r.statusCode, r.body).toBe(200);
    };
    const nodeH = async () => {
      const r = await t.app.inject({ method: 'GET', url: '/api/v1/nodes?cluster=prod&limit=100', headers: bearer(t.adminToken) });
      expect(r.statusCode, r.body).toBe(200);
      return (r.json().items as Array<Record<string, unknown>>).find((n) => n.name === 'node-h');
    };
    const now = Date.now();
    await send(new Date(now - 60_000), health('proc', 0, 2));
    expect(await nodeH()).toMatchObject({ sensor: 'proc', sensorReason: 'bpftrace not found', lostEvents: 0, droppedEvents: 2, droppedByReason: { spool_full: 2, write_failed: 0 } });
    await send(new Date(now - 30_000), health('ebpf', 17, 2));
    const current = { sensor: 'ebpf', sensorReason: null, lostEvents: 17, droppedEvents: 2 };
    expect(await nodeH()).toMatchObject(current);
    // A heartbeat the agent spooled earlier and sends late does not roll the report back.
    await send(new Date(now - 45_000), health('proc', 1, 0));
    expect(await nodeH()).toMatchObject(current);
    // A batch without a heartbeat keeps the report; a bad count is refused naming the field.
    const plain = await t.app.inject({ method: 'POST', url: '/ingest/agent', headers: bearer(prod), payload: batch('node-h', { events: [] }) });
    expect(plain.statusCode, plain.body).toBe(200);
    expect(await nodeH()).toMatchObject(current);
    const bad = await t.app.inject({ method: 'POST', url: '/ingest/agent', headers: bearer(prod), payload: { ...batch('node-h', { events: [] }), heartbeat: { at: new Date().toISOString(), lostEvents: -1 } } });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toMatch(/lostEvents/);
    // The agents' cluster token sends batches; it cannot read the inventory.
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/nodes', headers: bearer(prod) })).statusCode).toBe(403);
  });

  it('answers 403 plan_disabled when the cluster plan is off, still metering usage', async () => {
    await setPlan(t.store.db, 'cluster:staging', false, new Date());
    const r = await t.app.inject({ method: 'POST', url: '/ingest/agent', headers: bearer(staging), payload: batch('node-s', { heartbeat: new Date().toISOString() }) });
    expect(r.statusCode).toBe(403);
    expect(r.json()).toMatchObject({ code: 'plan_disabled' });
    expect(r.json().message).toMatch(/plan is off for cluster staging/);
    expect(await t.store.db.selectFrom('agent_events').select('id').where('cluster', '=', 'staging').execute()).toHaveLength(0);
    expect(await t.store.db.selectFrom('usage').select('id').where('scope', '=', 'cluster:staging').execute()).toHaveLength(1);
  });

  it('refuses callers without a cluster token, malformed batches and oversized bodies', async () => {
    const body = batch('node-c');
    expect((await t.app.inject({ method: 'POST', url: '/ingest/agent', payload: body })).statusCode).toBe(401);
    const registry = (await createToken(t.store.db, 'registry:hub')).secret;
    expect((await t.app.inject({ method: 'POST', url: '/ingest/agent', headers: bearer(registry), payload: body })).statusCode).toBe(403);
    const admin = await t.app.inject({ method: 'POST', url: '/ingest/agent', headers: bearer(t.adminToken), payload: body });
    expect(admin.statusCode).toBe(403);
    const named = await t.app.inject({ method: 'POST', url: '/ingest/agent?cluster=prod', headers: bearer(t.adminToken), payload: batch('node-c') });
    expect(named.statusCode, named.body).toBe(200);
    const noIds = await t.app.inject({ method: 'POST', url: '/ingest/agent', headers: bearer(prod), payload: { ...body, events: [{ kind: 'exec', at: 'x' }] } });
    expect(noIds.statusCode).toBe(400);
    const tooMany = await t.app.inject({ method: 'POST', url: '/ingest/agent', headers: bearer(prod), payload: { ...body, events: Array.from({ length: 2001 }, (_, i) => ({ id: `e${i}`, kind: 'exec', at: 'x' })) } });
    expect(tooMany.statusCode).toBe(400);
    const huge = await t.app.inject({ method: 'POST', url: '/ingest/agent', headers: { ...bearer(prod), 'content-type': 'application/json' }, payload: JSON.stringify({ ...body, pad: 'x'.repeat(9 * 1024 * 1024) }) });
    expect(huge.statusCode).toBe(413);
  });
});
