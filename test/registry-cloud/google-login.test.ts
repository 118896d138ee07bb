import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { openImage } from '../../src/image/index.js';
import { clientOptions, connectRegistry, forgetExchangedLogins, registryAccess } from '../../src/registry/index.js';
import { getRegistry } from '../../src/store/index.js';
import { fixture, fixturesAvailable } from '../support/fixtures.js';
import { createTestStore, type TestStore } from '../support/store.js';
import { registryAvailable, startRegistry, type LocalRegistry } from '../registry/registry.js';
import { json, startLoopback, type Loopback } from './loopback.js';

/**
 * Artifact Registry / Container Registry with a service-account JSON key (testdata/SOURCES.md): the
 * key signs a JWT bearer assertion, a loopback token endpoint answers with Google's documented
 * response, and a loopback registry front (Bearer challenge, `oauth2accesstoken` at its token realm,
 * as *-docker.pkg.dev does) serves a real docker-registry's image.
 */
const KEY_TEXT = readFileSync(path.join(import.meta.dirname, 'testdata', 'service-account-with-quota.json'), 'utf8');
const GOOGLE_ANSWER = { access_token: '1/8xbJqaOZXSUZbHLl5EOtu1pxz3fmmetKx9W8CV4t79M', scope: 'https://www.googleapis.com/auth/prediction', token_type: 'Bearer', expires_in: 3600 };

describe.skipIf(!fixturesAvailable() || !registryAvailable())('Google service-account key → OAuth access token → registry login', () => {
  let t: TestStore;
  let registry: LocalRegistry;
  let google: Loopback;
  let front: Loopback;
  let endpoint: string;
  const clock = new ManualClock('2026-06-30T12:00:00Z');
  const secretKey = 'a-test-secret-key-of-at-least-32-characters';
  const keyWith = (tokenUri: string | undefined) => {
    const key = JSON.parse(KEY_TEXT) as Record<string, unknown>;
    if (tokenUri === undefined) delete key.token_uri;
    else key.token_uri = tokenUri;
    return JSON.stringify(key);
  };

  beforeAll(async () => {
    t = await createTestStore({ name: 'google-login' });
    registry = await startRegistry();
    await registry.push(`oci:${fixture('images', 'debian12')}:minbase`, 'my-project/docker/base:1');
    google = await startLoopback((request, response) => (request.method === 'POST' && request.url === '/token' ? json(response, 200, GOOGLE_ANSWER) : json(response, 404, { error: 'not_found' })));
    endpoint = `${google.url}/token`;
    front = await startLoopback((request, response, proxy) => {
      if (request.url.startsWith('/v2/token')) {
        const expected = `Basic ${Buffer.from(`oauth2accesstoken:${GOOGLE_ANSWER.access_token}`).toString('base64')}`;
        return request.headers.authorization === expected ? json(response, 200, { token: 'registry-token' }) : json(response, 401, { errors: [{ code: 'UNAUTHORIZED' }] });
      }
      if (request.headers.authorization === 'Bearer registry-token') return proxy(registry.url);
      json(response, 401, { errors: [{ code: 'UNAUTHORIZED' }] }, { 'www-authenticate': `Bearer realm="${front.url}/v2/token",service="${front.host}"` });
    });
    await connectRegistry(t.store, { name: 'gar', url: front.url, kind: 'artifact-registry', login: { username: '_json_key', password: keyWith(endpoint) }, authority: endpoint, secretKey, actor: 'test', clock });
  }, 180_000);
  afterAll(async () => {
    await google?.close();
    await front?.close();
    await registry?.stop();
    await t?.close();
  });

  it('signs an RS256 assertion for the configured endpoint, exchanges it, and pulls with oauth2accesstoken', async () => {
    forgetExchangedLogins();
    const access = await registryAccess(await getRegistry(t.store.db, 'gar'), { secretKey, clock });
    expect(access.credentials).toEqual({ username: 'oauth2accesstoken', password: GOOGLE_ANSWER.access_token });
    const source = await openImage({ transport: 'registry', reference: { registry: access.host, repository: 'my-project/docker/base', tag: '1' } }, clientOptions(access));
    await source.close();
    expect(source.manifestDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(google.requests).toHaveLength(1);
    const form = new URLSearchParams(google.requests[0]!.body);
    expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    const [header, claims, signature] = form.get('assertion')!.split('.');
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'abc123' });
    const iat = clock.now().getTime() / 1000;
    expect(JSON.parse(Buffer.from(claims!, 'base64url').toString())).toEqual({ iss: 'fake@example.com', scope: 'https://www.googleapis.com/auth/cloud-platform', aud: endpoint, iat, exp: iat + 3600 });
    const publicKey = createPublicKey((JSON.parse(KEY_TEXT) as { private_key: string }).private_key);
    expect(verify('sha256', Buffer.from(`${header}.${claims}`), publicKey, Buffer.from(signature!, 'base64url'))).toBe(true);
    // The key never leaves: only the signed assertion is sent.
    expect(google.requests[0]!.body).not.toContain('PRIVATE');
  });

  it('keeps the access token until 5 minutes before it expires', async () => {
    await registryAccess(await getRegistry(t.store.db, 'gar'), { secretKey, clock });
    expect(google.requests).toHaveLength(1);
    clock.advance(56 * 60_000);
    await registryAccess(await getRegistry(t.store.db, 'gar'), { secretKey, clock });
    expect(google.requests).toHaveLength(2);
  });

  it('refuses, when connecting, a key whose token_uri is not the endpoint the user configured (or Google\'s by default)', async () => {
    let n = 0;
    const connect = (password: string, authority?: string) => connectRegistry(t.store, { name: `gar-${++n}`, url: front.url, kind: 'artifact-registry', login: { username: '_json_key', password }, ...(authority ? { authority } : {}), secretKey, actor: 'test', clock });
    // The recorded key names Google's endpoint; the user configured the loopback one.
    await expect(connect(KEY_TEXT, endpoint)).rejects.toMatchObject({ code: 'registry.google_key', field: 'password.token_uri' });
    await expect(connect(keyWith('https://tokens.evil.example/token'))).rejects.toMatchObject({ code: 'registry.google_key', field: 'password.token_uri' });
    // As recorded, with Google's default endpoint, it is accepted (nothing is called when connecting).
    const before = google.requests.length;
    await expect(connect(KEY_TEXT)).resolves.toBeDefined();
    await expect(connect(keyWith(undefined), endpoint)).resolves.toBeDefined();
    expect(google.requests.length).toBe(before);
    await expect(connect('{"type":"service_account"')).rejects.toMatchObject({ field: 'password' });
    await expect(connect(JSON.stringify({ ...JSON.parse(KEY_TEXT), private_key: 'not a key' }))).rejects.toMatchObject({ field: 'password.private_key' });
    await expect(connect(JSON.stringify({ ...JSON.parse(KEY_TEXT), client_email: 42 }))).rejects.toMatchObject({ field: 'password.client_email' });
    await expect(connect(KEY_TEXT, 'http://oauth2.example.com/token')).rejects.toMatchObject({ code: 'registry.authority', field: 'authority' });
  });

  it('reads the key given base64-encoded (_json_key_base64)', async () => {
    await connectRegistry(t.store, { name: 'gar-b64', url: front.url, kind: 'artifact-registry', login: { username: '_json_key_base64', password: Buffer.from(keyWith(endpoint)).toString('base64') }, authority: endpoint, secretKey, actor: 'test', clock });
    const access = await registryAccess(await getRegistry(t.store.db, 'gar-b64'), { secretKey, clock });
    expect(access.credentials?.username).toBe('oauth2accesstoken');
  });
});
