import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestStore, type TestStore } from '../../../test/support/store.js';
import { ManualClock } from '../../core/index.js';
import { connectRegistry } from '../connect.js';
import { ingestRegistryEvents } from '../triggers.js';
import { openCredentials } from '../credentials.js';
import { ecrLocation, renewEcrLogins } from './ecr-login.js';

/**
 * ECR pull logins through the AWS SDK's GetAuthorizationToken, against a loopback server standing in
 * for the regional ECR API. The answer has the shape of the API reference's Response Syntax
 * (docs.aws.amazon.com/AmazonECR/latest/APIReference/API_GetAuthorizationToken.html):
 * `{"authorizationData":[{"authorizationToken","expiresAt" (epoch seconds),"proxyEndpoint"}]}`, the
 * token base64 of `AWS:PASSWORD`. The keys are AWS's documented example keys.
 */
describe('ECR logins from GetAuthorizationToken', () => {
  let t: TestStore;
  let server: Server;
  let endpoint: string;
  const requests: Array<{ method: string; url: string; headers: IncomingHttpHeaders; body: string }> = [];
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  const clock = new ManualClock('2026-06-30T12:00:00Z');
  const secretKey = 'a-test-secret-key-of-at-least-32-characters';
  const keys = { username: 'AKIAIOSFODNN7EXAMPLE', password: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
  const url = 'https://012345678910.dkr.ecr.us-east-1.amazonaws.com';

  beforeAll(async () => {
    t = await createTestStore({ name: 'ecr-login' });
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.1', ...(answer.status >= 400 ? { 'x-amzn-errortype': (answer.body as { __type: string }).__type } : {}) }).end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    await connectRegistry(t.store, { name: 'prod', url, kind: 'ecr', login: keys, secretKey, actor: 'test', clock });
  }, 120_000);
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await t?.close();
  });

  const stored = async () => openCredentials(secretKey, (await t.store.db.selectFrom('registries').select('credentials').where('name', '=', 'prod').executeTakeFirstOrThrow()).credentials!) as unknown as Record<string, unknown>;

  it('reads account and region from the private registry host only', () => {
    expect(ecrLocation(url)).toEqual({ accountId: '012345678910', region: 'us-east-1' });
    expect(ecrLocation('https://123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn')).toEqual({ accountId: '123456789012', region: 'cn-north-1' });
    expect(ecrLocation('https://public.ecr.aws')).toBeUndefined();
    expect(ecrLocation('https://012345678910.dkr.ecr.us-east-1.amazonaws.com.evil.example')).toBeUndefined();
  });

  it('exchanges the access key for a 12-hour pull login, signed for ECR in the registry\'s region, keeping the keys sealed', async () => {
    const expiresAt = clock.now().getTime() / 1000 + 12 * 3600;
    answer = { status: 200, body: { authorizationData: [{ authorizationToken: Buffer.from('AWS:eyJwYXlsb2FkIjoiZXhhbXBsZSJ9').toString('base64'), expiresAt, proxyEndpoint: url }] } };
    expect(await renewEcrLogins({ store: t.store, clock, secretKey, endpoint })).toEqual(['prod']);
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request).toMatchObject({ method: 'POST', url: '/' });
    expect(request!.headers['x-amz-target']).toBe('AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken');
    expect(request!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/\d{8}\/us-east-1\/ecr\/aws4_request, SignedHeaders=.*, Signature=[0-9a-f]{64}$/);
    expect(request!.body).not.toContain(keys.password);
    expect(await stored()).toEqual({ username: 'AWS', password: 'eyJwYXlsb2FkIjoiZXhhbXBsZSJ9', aws: { accessKeyId: keys.username, secretAccessKey: keys.password }, expiresAt: expiresAt * 1000 });
  });

  it('leaves a login with more than 6 hours left, and renews it after', async () => {
    clock.advance(5 * 3600_000);
    expect(await renewEcrLogins({ store: t.store, clock, secretKey, endpoint })).toEqual([]);
    expect(requests).toHaveLength(1);
    clock.advance(2 * 3600_000);
    answer = { status: 200, body: { authorizationData: [{ authorizationToken: Buffer.from('AWS:second').toString('base64'), expiresAt: clock.now().getTime() / 1000 + 12 * 3600, proxyEndpoint: url }] } };
    expect(await renewEcrLogins({ store: t.store, clock, secretKey, endpoint })).toEqual(['prod']);
    expect((await stored()).password).toBe('second');
  });

  it('makes a just-connected registry\'s first login when its first push arrives, before its scans are queued', async () => {
    await connectRegistry(t.store, { name: 'fresh', url: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com', kind: 'ecr', login: keys, secretKey, actor: 'test', clock });
    answer = { status: 200, body: { authorizationData: [{ authorizationToken: Buffer.from('AWS:first-push').toString('base64'), expiresAt: clock.now().getTime() / 1000 + 12 * 3600, proxyEndpoint: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com' }] } };
    const before = requests.length;
    const push = { action: 'push' as const, repository: 'team/api', digest: `sha256:${'e'.repeat(64)}`, tag: '1', import: false, at: clock.now() };
    await ingestRegistryEvents({ store: t.store, jobs: undefined, clock, config: { secretKey }, ecrEndpoint: endpoint }, 'fresh', [push]);
    expect(requests.length).toBe(before + 1);
    expect(requests.at(-1)!.headers.authorization).toMatch(/\/eu-west-1\/ecr\/aws4_request/);
    const login = openCredentials(secretKey, (await t.store.db.selectFrom('registries').select('credentials').where('name', '=', 'fresh').executeTakeFirstOrThrow()).credentials!);
    expect(login).toMatchObject({ username: 'AWS', password: 'first-push' });
    // A second push finds a fresh login: no call.
    await ingestRegistryEvents({ store: t.store, jobs: undefined, clock, config: { secretKey }, ecrEndpoint: endpoint }, 'fresh', [push]);
    expect(requests.length).toBe(before + 1);
  });

  it('says which registry AWS refused, without the keys, and keeps the old login', async () => {
    clock.advance(24 * 3600_000);
    answer = { status: 400, body: { __type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' } };
    const error = await renewEcrLogins({ store: t.store, clock, secretKey, endpoint }).catch((e: unknown) => e as Error);
    expect(error).toMatchObject({ code: 'registry.ecr.renew', message: expect.stringMatching(/prod: ECR GetAuthorizationToken in us-east-1 failed: UnrecognizedClientException/) });
    expect(String((error as Error).message)).not.toContain(keys.password);
    expect((await stored()).password).toBe('second');
  });
});
