import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { runAgent, sampleEvent, Spool, type AgentBatch, type Collection } from '../../src/agent/index.js';
import { loadConfig, systemClock } from '../../src/core/index.js';
import { buildApp } from '../../src/server/index.js';
import { createToken, type Store } from '../../src/store/index.js';
import { createTestStore } from '../support/store.js';

function fakeBatch(n: number, events: number): AgentBatch {
  return {
    batchId: `b${n}`, sentAt: new Date().toISOString(), node: { name: 'n' }, alerts: [],
    events: Array.from({ length: events }, (_, i) => sampleEvent({ kind: 'exec', id: `b${n}-e${i}`, process: { name: 'x', exe: '/x', argv: ['x'.repeat(200)] } })),
  };
}

describe('disk spool', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('keeps batches in order across restarts, and drops the oldest with a count when full', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-spool-'));
    dirs.push(dir);
    const drops: { events: number; batches: number; totalEvents: number }[] = [];
    const one = Buffer.byteLength(JSON.stringify(fakeBatch(0, 10)));
    const spool = new Spool(dir, one * 3 + one / 2, (d) => drops.push(d));
    for (let i = 1; i <= 5; i++) spool.append(fakeBatch(i, 10));
    expect(spool.size).toBe(3);
    expect(spool.stats()).toMatchObject({ droppedBatches: 2, droppedEvents: 20 });
    expect(drops.reduce((n, d) => n + d.events, 0)).toBe(20);
    expect(drops.at(-1)!.totalEvents).toBe(20);

    const reopened = new Spool(dir, one * 10);
    expect(reopened.peek()!.batchId).toBe('b3');
    reopened.append(fakeBatch(6, 1));
    const order: string[] = [];
    for (let b = reopened.peek(); b; b = reopened.peek()) {
      order.push(b.batchId);
      reopened.shift();
    }
    expect(order).toEqual(['b3', 'b4', 'b5', 'b6']);
    expect(readdirSync(dir).filter((f) => f.endsWith('.json'))).toEqual([]);
  });
});

describe('agent shipping through a server outage', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function startServer(store: Store, dataDir: string, port: number): Promise<{ app: FastifyInstance; port: number }> {
    const config = loadConfig({ env: {}, cwd: dataDir, flags: { dataDir } });
    const app = await buildApp({ config, store, jobs: undefined, clock: systemClock });
    await app.listen({ host: '127.0.0.1', port });
    return { app, port: (app.server.address() as { port: number }).port };
  }

  it('spools while the server is down, resends in order after it returns, and every event is stored once', async () => {
    const temp = await createTestStore({ name: 'agent-ship' });
    const { store, dir: dataDir } = temp;
    const spoolDir = path.join(dataDir, 'spool');
    cleanups.push(temp.close);
    const token = (await createToken(store.db, 'cluster:lab')).secret;
    let server = await startServer(store, dataDir, 0);
    cleanups.push(() => server.app.close());
    const port = server.port;

    const produced: string[] = [];
    let latest: Collection = { events: [], alerts: [] };
    const controller = new AbortController();
    const spooledDuringOutage: number[] = [];
    const run = runAgent({
      node: 'spool-node', server: `http://127.0.0.1:${port}`, token, intervalMs: 250, spoolDir, heartbeatMs: 60_000, watchFiles: false, signal: controller.signal,
      onCollection: (c) => { latest = c; produced.push(...c.events.map((e) => e.id)); },
    });
    cleanups.push(async () => { controller.abort(); await run; });
    const children: ChildProcess[] = [];
    cleanups.push(() => children.forEach((c) => c.kill()));
    const waitFor = async (what: string, check: () => boolean | Promise<boolean>, ms = 15_000) => {
      const deadline = Date.now() + ms;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const storedCount = async () => (await store.db.selectFrom('agent_events').select('id').where('kind', '!=', 'alert').execute()).length;

    await waitFor('the snapshot to arrive', async () => (await storedCount()) > 0 && produced.length > 0);
    await server.app.close();

    // Events while the server is down: new processes.
    for (let i = 0; i < 5; i++) children.push(spawn('sleep', ['30']));
    const pids = new Set(children.map((c) => c.pid));
    await waitFor('the new processes to be collected', () => latest.events.some((e) => e.kind === 'exec' && pids.has(e.process.pid)));
    await waitFor('a batch in the spool', () => {
      const files = readdirSync(spoolDir).filter((f) => f.endsWith('.json')).length;
      spooledDuringOutage.push(files);
      return files > 0;
    });

    server = await startServer(store, dataDir, port);
    await waitFor('the spool to drain', () => readdirSync(spoolDir).filter((f) => f.endsWith('.json')).length === 0);
    controller.abort();
    const stats = await run;
    expect(stats.dropped).toBe(0);

    const rows = await store.db.selectFrom('agent_events').select(['id', 'kind']).where('node', '=', 'spool-node').where('kind', '!=', 'alert').execute();
    const unique = new Set(produced);
    expect(rows.length).toBe(unique.size);
    expect(new Set(rows.map((r) => r.id))).toEqual(unique);
    expect(Math.max(...spooledDuringOutage)).toBeGreaterThan(0);
  }, 60_000);
});
