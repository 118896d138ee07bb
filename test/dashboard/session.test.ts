import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/center/users.js';
import { ManualClock } from '../../src/core/index.js';
import { createToken, listActions } from '../../src/store/index.js';
import { bearer } from '../support/app.js';
import { createCenterApp, sessionOf } from './support.js';

type CenterApp = Awaited<ReturnType<typeof createCenterApp>>;

describe('dashboard sign-in', () => {
  let t: CenterApp;
  const clock = new ManualClock(new Date('2026-03-01T10:00:00Z'));
  beforeAll(async () => {
    t = await createCenterApp({ clock });
    await createUser(t.store.db, { name: 'alice', role: 'admin', password: 'correct horse battery' });
    await createUser(t.store.db, { name: 'rita', role: 'reader', password: 'reader passphrase 1' });
  });
  afterAll(async () => t?.close());

  const signIn = (body: object) => t.app.inject({ method: 'POST', url: '/api/v1/session', payload: body });

  it('sets an httpOnly SameSite=Strict cookie for a user with the right password, and never for a wrong one', async () => {
    const ok = await signIn({ user: 'alice', password: 'correct horse battery' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ subject: 'user:alice', role: 'admin' });
    const cookie = String(ok.headers['set-cookie']);
    expect(cookie).toMatch(/palisade_session=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);

    const wrong = await signIn({ user: 'alice', password: 'correct horse battery!' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    expect((await signIn({ user: 'nobody', password: 'whatever it is' })).statusCode).toBe(401);
  });

  it('signs in with the admin token but not with an ingest token', async () => {
    const ok = await signIn({ token: t.adminToken });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().role).toBe('admin');
    const ingest = await createToken(t.store.db, 'cluster:prod');
    expect((await signIn({ token: ingest.secret })).statusCode).toBe(401);
  });

  it('lets the session cookie call the API; changes need the CSRF token', async () => {
    const session = sessionOf(await signIn({ user: 'alice', password: 'correct horse battery' }));
    const me = await t.app.inject({ url: '/api/v1/session', headers: { cookie: session.cookie } });
    expect(me.json()).toMatchObject({ subject: 'user:alice', role: 'admin', csrf: session.csrf });
    expect((await t.app.inject({ url: '/api/v1/plans', headers: { cookie: session.cookie } })).statusCode).toBe(200);

    const put = (headers: Record<string, string>) => t.app.inject({ method: 'PUT', url: '/api/v1/plans/cluster:prod', headers: { cookie: session.cookie, ...headers }, payload: { enabled: false } });
    const forged = await put({});
    expect(forged.statusCode).toBe(403);
    expect(forged.json().code).toBe('csrf');
    expect((await put({ 'x-csrf-token': 'not-the-token' })).statusCode).toBe(403);
    const real = await put({ 'x-csrf-token': session.csrf });
    expect(real.statusCode).toBe(200);
    const trail = await listActions(t.store.db, 'cluster:prod');
    expect(trail.at(-1)).toMatchObject({ actor: 'user:alice', action: 'plan.disable' });
  });

  it('gives readers the read API and refuses them changes and admin-only reads', async () => {
    const session = sessionOf(await signIn({ user: 'rita', password: 'reader passphrase 1' }));
    const headers = { cookie: session.cookie, 'x-csrf-token': session.csrf };
    expect((await t.app.inject({ url: '/api/v1/overview', headers })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/api/v1/costs', headers })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'PUT', url: '/api/v1/plans/cluster:prod', headers, payload: { enabled: true } })).statusCode).toBe(403);
    expect((await t.app.inject({ url: '/api/v1/tokens', headers })).statusCode).toBe(403);
    expect((await t.app.inject({ url: '/api/v1/users', headers })).statusCode).toBe(403);
  });

  it('keeps bearer tokens working without CSRF, and rejects a bad or signed-out cookie', async () => {
    expect((await t.app.inject({ method: 'PUT', url: '/api/v1/plans/cluster:dev', headers: bearer(t.adminToken), payload: { enabled: true } })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/api/v1/overview', headers: { cookie: 'palisade_session=forged' } })).statusCode).toBe(401);
    const session = sessionOf(await signIn({ user: 'alice', password: 'correct horse battery' }));
    const out = await t.app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie: session.cookie, 'x-csrf-token': session.csrf } });
    expect(out.statusCode).toBe(200);
    expect((await t.app.inject({ url: '/api/v1/overview', headers: { cookie: session.cookie } })).statusCode).toBe(401);
  });

  it('ends sessions when the admin token behind them is revoked or the user role changes', async () => {
    const viaToken = await createToken(t.store.db, 'admin', 'second admin');
    const tokenSession = sessionOf(await signIn({ token: viaToken.secret }));
    expect((await t.app.inject({ url: '/api/v1/overview', headers: { cookie: tokenSession.cookie } })).statusCode).toBe(200);
    await t.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${viaToken.id}`, headers: bearer(t.adminToken) });
    expect((await t.app.inject({ url: '/api/v1/overview', headers: { cookie: tokenSession.cookie } })).statusCode).toBe(401);

    const user = await createUser(t.store.db, { name: 'erin', role: 'admin', password: 'erins long password' });
    const userSession = sessionOf(await signIn({ user: 'erin', password: 'erins long password' }));
    const demote = await t.app.inject({ method: 'PATCH', url: `/api/v1/users/${user.id}`, headers: bearer(t.adminToken), payload: { role: 'reader' } });
    expect(demote.json().role).toBe('reader');
    expect((await t.app.inject({ url: '/api/v1/overview', headers: { cookie: userSession.cookie } })).statusCode).toBe(401);
    const again = sessionOf(await signIn({ user: 'erin', password: 'erins long password' }));
    expect((await t.app.inject({ url: '/api/v1/users', headers: { cookie: again.cookie } })).statusCode).toBe(403);
  });

  it('expires sessions after their lifetime', async () => {
    const session = sessionOf(await signIn({ user: 'alice', password: 'correct horse battery' }));
    clock.advance(13 * 60 * 60 * 1000);
    expect((await t.app.inject({ url: '/api/v1/overview', headers: { cookie: session.cookie } })).statusCode).toBe(401);
  });

  it('slows an account down after failures instead of locking it, and lets the right password in after the wait', async () => {
    await createUser(t.store.db, { name: 'bob', role: 'reader', password: 'bobs long password' });
    for (let i = 0; i < 4; i++) expect((await signIn({ user: 'bob', password: `guess number ${i}` })).statusCode).toBe(401);
    const slowed = await signIn({ user: 'bob', password: 'bobs long password' });
    expect(slowed.statusCode).toBe(429);
    expect(slowed.json().code).toBe('sign_in.slow_down');
    expect(slowed.headers['retry-after']).toBe('1');
    // Other accounts are unaffected.
    expect((await signIn({ user: 'alice', password: 'correct horse battery' })).statusCode).toBe(200);
    clock.advance(1000);
    expect((await signIn({ user: 'bob', password: 'bobs long password' })).statusCode).toBe(200);
  });

  it('lets admins create users (passwords never returned) and refuses weak passwords', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(t.adminToken), payload: { name: 'carol', role: 'reader', password: 'a good long passphrase' } });
    expect(created.statusCode).toBe(201);
    expect(JSON.stringify(created.json())).not.toContain('passphrase');
    const weak = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(t.adminToken), payload: { name: 'dave', role: 'reader', password: 'short' } });
    expect(weak.statusCode).toBe(400);
    expect(weak.json().code).toBe('user.password');
    const row = await t.store.db.selectFrom('users').select('password_hash').where('name', '=', 'carol').executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^scrypt\$/);
    expect(row.password_hash).not.toContain('passphrase');
    expect((await signIn({ user: 'carol', password: 'a good long passphrase' })).statusCode).toBe(200);
  });
});
