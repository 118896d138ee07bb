import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_WEBHOOK_EVENTS, SCAN_QUEUE } from '../../src/registry/index.js';
import { digestOf, pushes, RECORDED, startWebhookServer, type WebhookServer } from './webhook-server.js';

/**
 * One webhook must not starve the server or other registries: one request of 5,000 or 20,000
 * events is refused with 413 naming the cap, a burst of 5,000 events delivered within the cap is
 * stored with repeated digests collapsed, and a burst from one registry holds back another
 * registry's scan by one scan at most. (/healthz during the burst: test/scale/webhook-flood.test.ts.)
 */
describe('registry protection: a webhook flood is capped and cannot starve another registry', () => {
  let server: WebhookServer;
  beforeAll(async () => {
    server = await startWebhookServer(['busy', 'quiet', 'other']);
  }, 120_000);
  afterAll(async () => server?.close());
  const deliver: WebhookServer['deliver'] = (registry, events) => server.deliver(registry, events);
  const storedImages = (registry: string) => server.storedImages(registry);
  const queuedScans = (registry: string) => server.queuedScans(registry);

  it(`refuses 5,000 and 20,000 events in one request with 413 naming the cap of ${MAX_WEBHOOK_EVENTS}, and stores and queues nothing`, async () => {
    // As docker-registry sends them, 5,000 or 20,000 events are over the byte limit: refused while arriving, never parsed.
    for (const n of [5000, 20_000]) {
      const full = await deliver('busy', pushes('busy', n, n));
      expect(full.status).toBe(413);
      expect(await full.json()).toMatchObject({ code: 'registry.webhook.too_large', message: expect.stringContaining(`at most ${MAX_WEBHOOK_EVENTS} events per request`) });
    }
    // Stripped to the fields Palisade reads, 5,000 fit the byte limit and are refused by count.
    const lean = Array.from({ length: 5000 }, (_, i) => ({ action: 'push', target: { mediaType: RECORDED.target.mediaType, repository: 'team/app', digest: digestOf('lean', i) } }));
    const counted = await deliver('busy', lean);
    expect(counted.status).toBe(413);
    expect(await counted.json()).toMatchObject({ code: 'registry.webhook.too_many_events', message: `distribution webhook: at most ${MAX_WEBHOOK_EVENTS} events per request (events holds 5000) (send at most ${MAX_WEBHOOK_EVENTS} events per request)` });
    expect(await storedImages('busy')).toBe(0);
    expect(await queuedScans('busy')).toBe(0);
  }, 120_000);

  it('writes a burst of 5,000 events delivered within the cap, collapsing repeated digests into one queued scan each', async () => {
    const burst = pushes('busy', 5000, 2000);
    const answers = [];
    for (let i = 0; i < burst.length; i += MAX_WEBHOOK_EVENTS) {
      const response = await deliver('busy', burst.slice(i, i + MAX_WEBHOOK_EVENTS));
      answers.push({ status: response.status, body: await response.json() });
    }
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
    expect(answers.map((a) => (a.body as { accepted: number }).accepted)).toEqual([1000, 1000, 1000, 1000, 1000]);
    // 2,000 digests under three tags each: 2,000 images with their three tags, and one queued scan per digest
    // (collapsed within a request and against scans already waiting).
    expect(await storedImages('busy')).toBe(2000);
    expect(await queuedScans('busy')).toBe(2000);
    const tags = await server.store.db.selectFrom('images').select('tags').where('digest', '=', digestOf('busy', 7)).executeTakeFirstOrThrow();
    expect([...tags.tags].sort()).toEqual(['t0', 't1', 't2']);
  }, 180_000);

  it("lets another registry's scan through after at most one scan of a burst, and interleaves two bursts", async () => {
    // 2,000 scans of `busy` are waiting (previous test). `quiet` pushes one image.
    expect(await queuedScans('busy')).toBe(2000);
    expect((await deliver('quiet', pushes('quiet', 1, 1))).status).toBe(202);
    const next = async () => {
      const [job] = (await server.jobs.boss.fetch<{ registry: string }>(SCAN_QUEUE)) ?? [];
      return job?.data.registry;
    };
    const firstTwo = [await next(), await next()];
    expect(firstTwo).toContain('quiet');
    // `other` arrives with a burst of its own while `busy` still has 1,999 waiting: they take turns.
    expect((await deliver('other', pushes('other', 300, 300))).status).toBe(202);
    const order: string[] = [];
    for (let i = 0; i < 20; i++) order.push((await next())!);
    expect(order.filter((r) => r === 'other').length).toBeGreaterThanOrEqual(9);
    expect(order.filter((r) => r === 'busy').length).toBeGreaterThanOrEqual(9);
  }, 120_000);
});
