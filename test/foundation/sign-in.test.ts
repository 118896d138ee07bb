import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/center/users.js';
import { ManualClock } from '../../src/core/index.js';
import { createToken } from '../../src/store/index.js';
import { bearer, createTestApp, type TestApp } from '../support/app.js';
import { admissionReview, pod } from '../support/admission.js';

/**
 * Issue 14 point 7: Secure cookies behind a TLS-terminating proxy (`trustProxy`), failed sign-ins
 * slowing down per user and per address instead of locking the real user out, and the admission
 * decision log's retention.
 */
describe('sign-in behind a proxy, back-off, and the admission log retention', () => {
  const clock = new ManualClock(new Date('2026-03-01T10:00:00Z'));
  let proxied: TestApp;
  let direct: TestApp;

  beforeAll(async () => {
    [proxied, direct] = await Promise.all([
      createTestApp({ clock, config: { trustProxy: '127.0.0.1', admissionLogRetentionDays: 7 } }),
      createTestApp({ clock }),
    ]);
    for (const t of [proxied, direct]) await createUser(t.store.db, { name: 'bob', role: 'reader', password: 'bobs long password' });
  }, 300_000);
  afterAll(async () => {
    await proxied?.close();
    await direct?.close();
  });

  const signIn = (t: TestApp, body: object, from?: string, proto?: string) => t.app.inject({
    method: 'POST', url: '/api/v1/session', payload: body,
    headers: { ...(from ? { 'x-forwarded-for': from } : {}), ...(proto ? { 'x-forwarded-proto': proto } : {}) },
  });

  it('marks the session cookie Secure when a trusted proxy says the client used HTTPS, and only then', async () => {
    const viaProxy = await signIn(proxied, { user: 'bob', password: 'bobs long password' }, '203.0.113.9', 'https');
    expect(viaProxy.statusCode, viaProxy.body).toBe(200);
    expect(String(viaProxy.headers['set-cookie'])).toMatch(/;\s*Secure/i);
    const plain = await signIn(proxied, { user: 'bob', password: 'bobs long password' }, '203.0.113.9', 'http');
    expect(String(plain.headers['set-cookie'])).not.toMatch(/;\s*Secure/i);
    // Without trustProxy the same headers are anyone's to forge: ignored.
    const forged = await signIn(direct, { user: 'bob', password: 'bobs long password' }, '203.0.113.9', 'https');
    expect(forged.statusCode).toBe(200);
    expect(String(forged.headers['set-cookie'])).not.toMatch(/;\s*Secure/i);
  });

  it('rejects a trustProxy that is not false, true, a hop count or addresses', async () => {
    await expect(createTestApp({ config: { trustProxy: 'the load balancer' } })).rejects.toThrow(/trustProxy: "the load balancer" is not an IP address or CIDR/);
  });

  it('slows a guesser down exponentially while the real user at another address still signs in', async () => {
    const attacker = '198.51.100.66';
    const real = '192.0.2.10';
    const waits: number[] = [];
    for (let failures = 0; failures < 12;) {
      const res = await signIn(proxied, { user: 'bob', password: `guess ${failures}` }, attacker);
      if (res.statusCode === 429) {
        expect(res.json().code).toBe('sign_in.slow_down');
        const wait = Number(res.headers['retry-after']);
        waits.push(wait);
        clock.advance(wait * 1000);
        continue;
      }
      expect(res.statusCode, res.body).toBe(401);
      failures++;
    }
    // Three free failures, then 1 s, 2 s, 4 s … doubling at the guessing address; no lockout, only waits.
    expect(waits).toEqual([1, 2, 4, 8, 16, 32, 64, 128]);
    const blocked = await signIn(proxied, { user: 'bob', password: 'bobs long password' }, attacker);
    expect(blocked.statusCode).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBe(256);

    // The real user at their own address waits at most a minute, then signs in.
    const realUser = await signIn(proxied, { user: 'bob', password: 'bobs long password' }, real);
    if (realUser.statusCode === 429) {
      expect(Number(realUser.headers['retry-after'])).toBeLessThanOrEqual(60);
      clock.advance(Number(realUser.headers['retry-after']) * 1000);
    }
    const afterWait = await signIn(proxied, { user: 'bob', password: 'bobs long password' }, real);
    expect(afterWait.statusCode, afterWait.body).toBe(200);
  });

  it('slows down an address spraying guesses across many accounts', async () => {
    const sprayer = '198.51.100.99';
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await signIn(proxied, { user: `nobody-${i}`, password: 'Winter2026!' }, sprayer)).statusCode);
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(10)).toContain(429);
    // Another address is not affected.
    expect((await signIn(proxied, { user: 'nobody-0', password: 'Winter2026!' }, '192.0.2.77')).statusCode).toBe(401);
  });

  it('deletes admission decisions older than admissionLogRetentionDays', async () => {
    const token = bearer((await createToken(proxied.store.db, 'cluster:prod')).secret);
    const review = (uid: string) => admissionReview(pod(`p-${uid}`, 'registry.example.com/c:1', { privileged: true }), { uid });
    const decisions = async () => (await proxied.store.db.selectFrom('admission_decisions').select('uid').orderBy('uid').execute()).map((r) => r.uid);
    const send = async (uid: string) => {
      const res = await proxied.app.inject({ method: 'POST', url: '/admission/validate/prod', headers: token, payload: review(uid) });
      expect(res.json().response.allowed).toBe(false);
      await expect.poll(decisions).toContain(uid);
    };
    await send('old-1');
    clock.advance(3 * 24 * 3600 * 1000);
    await send('mid-1');
    clock.advance(5 * 24 * 3600 * 1000); // old-1 is 8 days old now, mid-1 5 days
    await send('new-1');
    expect(await decisions()).toEqual(['mid-1', 'new-1']);
  });
});
