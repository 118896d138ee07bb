import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { openImage } from '../../src/image/index.js';
import { clientOptions, connectRegistry, forgetExchangedLogins, pollRegistry, registryAccess } from '../../src/registry/index.js';
import { getRegistry } from '../../src/store/index.js';
import { fixture, fixturesAvailable } from '../support/fixtures.js';
import { createTestStore, type TestStore } from '../support/store.js';
import { registryAvailable, startRegistry, type LocalRegistry } from '../registry/registry.js';
import { json, startLoopback, type Loopback } from './loopback.js';

/**
 * ACR with an Azure AD service principal, against a loopback Azure AD and a loopback ACR front
 * (its /oauth2/exchange and /oauth2/token, then the Distribution API of a real docker-registry).
 * Both replay the exchange azure-sdk-for-js recorded against Azure (sdk/containerregistry/
 * container-registry/recordings/node/containerrepositoryclient_functional_tests/
 * recording_sets_manifest_properties.js, commit 17f19b12fe1b6159c598e83079a308c99aab31dd): the
 * client-credentials form and answer, `grant_type=access_token` → `{"refresh_token":…}`,
 * `grant_type=refresh_token` with a scope → `{"access_token":…}`, and ACR's Bearer challenge.
 */
const TENANT = '12345678-1234-1234-1234-123456789012';
const RECORDED_AAD_ANSWER = { token_type: 'Bearer', expires_in: 86399, ext_expires_in: 86399, access_token: 'access_token' };

describe.skipIf(!fixturesAvailable() || !registryAvailable())('ACR login through an Azure AD service principal', () => {
  let t: TestStore;
  let registry: LocalRegistry;
  let aad: Loopback;
  let acr: Loopback;
  let digest: string;
  let aadAnswer: { status: number; body: unknown } = { status: 200, body: RECORDED_AAD_ANSWER };
  const clock = new ManualClock('2026-06-30T12:00:00Z');
  const secretKey = 'a-test-secret-key-of-at-least-32-characters';

  beforeAll(async () => {
    t = await createTestStore({ name: 'acr-login' });
    registry = await startRegistry();
    await registry.push(`oci:${fixture('images', 'debian12')}:minbase`, 'demo/base:1');
    aad = await startLoopback((request, response) => {
      if (request.method === 'POST' && request.url === `/${TENANT}/oauth2/v2.0/token`) return json(response, aadAnswer.status, aadAnswer.body);
      json(response, 404, { error: 'not_found' });
    });
    acr = await startLoopback((request, response, proxy) => {
      const form = new URLSearchParams(request.body);
      if (request.method === 'POST' && request.url === '/oauth2/exchange') {
        return form.get('grant_type') === 'access_token' && form.get('access_token') === 'access_token' ? json(response, 200, { refresh_token: 'refresh_token' }) : json(response, 401, { errors: [{ code: 'UNAUTHORIZED' }] });
      }
      if (request.method === 'POST' && request.url === '/oauth2/token') {
        return form.get('grant_type') === 'refresh_token' && form.get('refresh_token') === 'refresh_token' ? json(response, 200, { access_token: 'access_token' }) : json(response, 401, { errors: [{ code: 'UNAUTHORIZED' }] });
      }
      if (request.url.startsWith('/v2/')) {
        if (request.headers.authorization === 'Bearer access_token') return proxy(registry.url);
        const scope = request.url.startsWith('/v2/_catalog') ? 'registry:catalog:*' : 'repository:demo/base:pull';
        return json(response, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required, visit https://aka.ms/acr/authorization for more information.' }] }, {
          'www-authenticate': `Bearer realm="${acr.url}/oauth2/token",service="${acr.host}",scope="${scope}",error="invalid_token"`,
        });
      }
      json(response, 404, {});
    });
    const pushed = await fetch(`${registry.url}/v2/demo/base/manifests/1`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
    digest = pushed.headers.get('docker-content-digest')!;
    await connectRegistry(t.store, {
      name: 'contoso', url: acr.url, kind: 'acr', login: { username: 'azure_client_id', password: 'azure_client_secret' },
      authority: `${aad.url}/${TENANT}`, secretKey, actor: 'test', clock,
    });
  }, 180_000);
  afterAll(async () => {
    await aad?.close();
    await acr?.close();
    await registry?.stop();
    await t?.close();
  });

  it('exchanges the service principal for an ACR refresh token, then a pull token per repository, and pulls the image', async () => {
    forgetExchangedLogins();
    const access = await registryAccess(await getRegistry(t.store.db, 'contoso'), { secretKey, clock });
    const source = await openImage({ transport: 'registry', reference: { registry: access.host, repository: 'demo/base', tag: '1' } }, clientOptions(access));
    await source.close();
    expect(source.manifestDigest).toBe(digest);
    // The recorded client-credentials form, at the configured authority.
    expect(aad.requests.map((r) => [r.method, r.url, r.body])).toEqual([['POST', `/${TENANT}/oauth2/v2.0/token`,
      'response_type=token&grant_type=client_credentials&client_id=azure_client_id&client_secret=azure_client_secret&scope=https%3A%2F%2Fmanagement.core.windows.net%2F.default']]);
    const exchange = acr.requests.filter((r) => r.url.startsWith('/oauth2/'));
    expect(exchange.map((r) => [r.url, r.body])).toEqual([
      ['/oauth2/exchange', `grant_type=access_token&service=${encodeURIComponent(acr.host)}&access_token=access_token`],
      ['/oauth2/token', `grant_type=refresh_token&service=${encodeURIComponent(acr.host)}&refresh_token=refresh_token&scope=repository%3Ademo%2Fbase%3Apull`],
    ]);
    // Every registry API request went out with the scoped ACR access token: no challenge round trip.
    const api = acr.requests.filter((r) => r.url.startsWith('/v2/'));
    expect(api.length).toBeGreaterThan(1);
    expect(api.every((r) => r.headers.authorization === 'Bearer access_token')).toBe(true);
  });

  it('keeps the exchanged login while it is valid: a second pull asks Azure AD nothing', async () => {
    const before = aad.requests.length;
    const access = await registryAccess(await getRegistry(t.store.db, 'contoso'), { secretKey, clock });
    const source = await openImage({ transport: 'registry', reference: { registry: access.host, repository: 'demo/base', digest } }, clientOptions(access));
    await source.close();
    expect(aad.requests.length).toBe(before);
    clock.advance(2 * 3_600_000);
    await registryAccess(await getRegistry(t.store.db, 'contoso'), { secretKey, clock });
    expect(aad.requests.length).toBe(before + 1);
  });

  it('polls through the catalog with a registry:catalog:* token from the same refresh token', async () => {
    forgetExchangedLogins();
    await connectRegistry(t.store, {
      name: 'contoso-poll', url: acr.url, kind: 'acr', poll: true, login: { username: 'azure_client_id', password: 'azure_client_secret' },
      authority: `${aad.url}/${TENANT}`, secretKey, actor: 'test', clock,
    });
    const before = acr.requests.length;
    const result = await pollRegistry({ store: t.store, jobs: undefined, clock, config: { secretKey } }, await getRegistry(t.store.db, 'contoso-poll'));
    expect(result).toMatchObject({ repositories: 1, tags: 1, newImages: 1, source: 'catalog' });
    const scopes = acr.requests.slice(before).filter((r) => r.url === '/oauth2/token').map((r) => new URLSearchParams(r.body).get('scope'));
    expect(scopes).toEqual(['registry:catalog:*', 'repository:demo/base:pull']);
  });

  it('says Azure AD refused the client, with its error code and without the secret', async () => {
    forgetExchangedLogins();
    aadAnswer = { status: 401, body: { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided. azure_client_secret' } };
    const error = await registryAccess(await getRegistry(t.store.db, 'contoso'), { secretKey, clock }).catch((e: unknown) => e as Error);
    aadAnswer = { status: 200, body: RECORDED_AAD_ANSWER };
    expect(error).toMatchObject({ code: 'registry.login.refused', kind: 'unauthorized', message: expect.stringContaining('HTTP 401 (invalid_client)') });
    expect((error as Error).message).not.toContain('azure_client_secret');
  });

  it.each([
    ['http://login.example.com/tenant', 'registry.authority', 'authority'],
    ['https://login.microsoftonline.com', 'registry.authority', 'authority'],
    ['https://user:pw@login.microsoftonline.com/tenant', 'registry.authority', 'authority'],
  ])('refuses the authority %s when connecting (HTTPS with a tenant; plain HTTP only on loopback)', async (authority, code, field) => {
    await expect(connectRegistry(t.store, { name: `bad-${Math.random().toString(36).slice(2, 8)}`, url: acr.url, kind: 'acr', login: { username: 'a', password: 'b' }, authority, secretKey, actor: 'test', clock }))
      .rejects.toMatchObject({ code, field });
  });

  it('refuses an authority on a kind that exchanges nothing, and an authority without credentials', async () => {
    await expect(connectRegistry(t.store, { name: 'plain', url: acr.url, kind: 'distribution', login: { username: 'a', password: 'b' }, authority: 'https://login.microsoftonline.com/x', secretKey, actor: 'test', clock }))
      .rejects.toMatchObject({ code: 'registry.authority', field: 'authority' });
    await expect(connectRegistry(t.store, { name: 'nologin', url: acr.url, kind: 'acr', authority: 'https://login.microsoftonline.com/x', secretKey, actor: 'test', clock }))
      .rejects.toMatchObject({ code: 'registry.authority', field: 'authority' });
  });
});
