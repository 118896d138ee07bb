import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DetectedThreat } from '../../src/center/alerts.js';
import { ThreatIntake } from '../../src/center/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { bearer } from '../support/app.js';
import { createTestPostgres, postgresAvailable, type TestPostgres } from '../support/postgres.js';
import { createCenterApp } from './support.js';
import { podThreat } from '../support/threats.js';

function threat(name: string, severity: DetectedThreat['severity'] = 'high'): DetectedThreat {
  return podThreat(name, new Date(), { severity, technique: 'T1609', evidence: [{ verb: 'create', subresource: 'exec' }] });
}

/** Reads server-sent events from a live server until `count` alert events arrived. */
async function openStream(url: string, token: string) {
  const response = await fetch(url, { headers: { ...bearer(token), accept: 'text/event-stream' } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  // Wait for the server's first comment, so the subscription exists before we publish.
  while (!buffer.includes(': connected')) buffer += decoder.decode((await reader.read()).value);
  return {
    async alerts(count: number, timeoutMs = 10_000): Promise<Array<{ id: string; title: string }>> {
      const deadline = Date.now() + timeoutMs;
      const found = () => [...buffer.matchAll(/event: alert\ndata: (.+)\n\n/g)].map((m) => JSON.parse(m[1]!) as { id: string; title: string });
      while (found().length < count) {
        if (Date.now() > deadline) throw new Error(`only ${found().length} of ${count} alerts arrived:\n${buffer}`);
        const chunk = await Promise.race([reader.read(), new Promise<undefined>((r) => setTimeout(() => r(undefined), deadline - Date.now()))]);
        if (chunk?.value) buffer += decoder.decode(chunk.value);
      }
      return found();
    },
    close: () => reader.cancel(),
  };
}

describe('live alerts over server-sent events (PGlite, in-process)', () => {
  let t: Awaited<ReturnType<typeof createCenterApp>>;
  let base: string;
  beforeAll(async () => {
    t = await createCenterApp();
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => t?.close());

  it('streams each new alert once, not repeats of an existing one', async () => {
    const stream = await openStream(`${base}/api/v1/events`, t.adminToken);
    const first = await new ThreatIntake(t.store).submit({ threats: [threat('web-1'), threat('web-2', 'low')] });
    expect(first.created).toHaveLength(2);
    // The same rule on the same resource updates the alert: nothing new to stream.
    const repeat = await new ThreatIntake(t.store).submit({ threats: [threat('web-1')] });
    expect(repeat.created).toHaveLength(0);
    await new ThreatIntake(t.store).submit({ threats: [threat('web-3')] });
    const alerts = await stream.alerts(3);
    expect(alerts.map((a) => a.title).sort()).toEqual(['Exec into web-1', 'Exec into web-2', 'Exec into web-3']);
    expect(alerts.at(-1)!.title).toBe('Exec into web-3');
    await stream.close();
  });

  it('refuses the stream without credentials', async () => {
    expect((await fetch(`${base}/api/v1/events`)).status).toBe(401);
  });
});

describe.skipIf(!(await postgresAvailable()))('live alerts across servers on PostgreSQL (LISTEN/NOTIFY)', () => {
  let pgdb: TestPostgres;
  let t: Awaited<ReturnType<typeof createCenterApp>>;
  let worker: Store;
  let base: string;
  beforeAll(async () => {
    pgdb = await createTestPostgres();
    t = await createCenterApp({ databaseUrl: pgdb.url });
    base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    // A second process's view of the same database (a worker recording threats).
    worker = await openStore({ databaseUrl: pgdb.url });
  });
  afterAll(async () => {
    await worker?.close();
    await t?.close();
    await pgdb?.drop();
  });

  it('delivers an alert created through another connection to the server streaming it', async () => {
    const stream = await openStream(`${base}/api/v1/events`, t.adminToken);
    await new ThreatIntake(worker).submit({ threats: [threat('api-1', 'critical')] });
    const [alert] = await stream.alerts(1);
    expect(alert!.title).toBe('Exec into api-1');
    await stream.close();
  });
});
