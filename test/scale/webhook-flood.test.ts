import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_WEBHOOK_EVENTS } from '../../src/registry/index.js';
import { pushes, startWebhookServer, type WebhookServer } from '../registry-protection/webhook-server.js';

/**
 * One webhook cannot freeze the server: while a burst of 5,000 Distribution events is delivered
 * (five requests at the cap, and a 20,000-event request refused among them), /healthz keeps
 * answering within 100 ms. A load test: it runs after the rest, alone (scripts/test.sh), since it
 * measures time; the server shares this process, so the request bodies are built before measuring.
 */
describe('registry protection: /healthz answers while a webhook flood is processed', () => {
  let server: WebhookServer;
  beforeAll(async () => {
    server = await startWebhookServer(['busy', 'warm']);
  }, 120_000);
  afterAll(async () => server?.close());

  async function healthz(): Promise<number> {
    const started = performance.now();
    await (await fetch(`${server.base}/healthz`)).text();
    return performance.now() - started;
  }

  it('answers /healthz within 100 ms throughout a burst of 5,000 events', async () => {
    const burst = pushes('busy', 5000, 2000);
    const requests: string[] = [];
    for (let i = 0; i < burst.length; i += MAX_WEBHOOK_EVENTS) requests.push(JSON.stringify({ events: burst.slice(i, i + MAX_WEBHOOK_EVENTS) }));
    const oversized = JSON.stringify({ events: pushes('busy', 20_000, 20_000) });
    // Warm-up, not measured: the first health check opens the connection, the first delivery
    // plans the store's and queue's statements (a running server has done both long before).
    const idle: number[] = [];
    for (let i = 0; i < 20; i++) idle.push(await healthz());
    expect((await server.deliver('warm', pushes('warm', 10, 10))).status).toBe(202);

    const latencies: number[] = [];
    let processing = true;
    const poll = (async () => {
      while (processing) {
        latencies.push(await healthz());
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const started = performance.now();
    const statuses: number[] = [];
    for (const [i, request] of requests.entries()) {
      statuses.push((await server.deliver('busy', request)).status);
      if (i === 2) statuses.push((await server.deliver('busy', oversized)).status);
    }
    const took = performance.now() - started;
    processing = false;
    await poll;

    expect(statuses).toEqual([202, 202, 202, 413, 202, 202]);
    expect(await server.storedImages('busy')).toBe(2000);
    expect(await server.queuedScans('busy')).toBe(2000);
    const idleSlowest = Math.max(...idle.slice(1));
    const slowestFirst = [...latencies].sort((a, b) => b - a);
    const slow = latencies.filter((ms) => ms - idleSlowest >= 100);
    console.log(JSON.stringify({ burstMs: Math.round(took), healthChecks: latencies.length, slowestMs: slowestFirst.slice(0, 5).map(Math.round), idleSlowestAfterWarmUpMs: Math.round(idleSlowest) }));
    // Health checks were answered all along, not only before and after.
    expect(latencies.length).toBeGreaterThanOrEqual(Math.min(10, Math.floor(took / 100)));
    // The flood adds under 100 ms to the slowest health check this machine answers when idle: on
    // an idle machine that is "within 100 ms". One check may miss it: a 2-core CI machine stalls a
    // process now and then on its own (CI once saw one 128 ms check among 54, the rest far lower;
    // here an idle run showed 95, 21, 19 ms), and the server shares this process with the test's
    // garbage. A flood that blocks the loop does so once per request, so it slows several checks.
    expect(slow.length, `health checks 100 ms slower than idle: ${slow.map(Math.round).join(', ')}`).toBeLessThanOrEqual(1);
  }, 180_000);
});
