import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ecrRepositories } from './ecr-repositories.js';

/**
 * ECR's repositories through DescribeRepositories, against a loopback server standing in for the
 * regional ECR API. Answers have the shape of the API reference's response syntax and example
 * (docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeRepositories.html: `repositories`
 * with `registryId`, `repositoryName`, `repositoryArn`, `repositoryUri`, and `nextToken` for the next
 * page). The keys are AWS's documented example keys.
 */
describe('ECR repositories from DescribeRepositories', () => {
  let server: Server;
  let endpoint: string;
  const requests: Array<{ headers: IncomingHttpHeaders; body: Record<string, unknown> }> = [];
  const url = 'https://012345678910.dkr.ecr.us-west-2.amazonaws.com';
  const repo = (name: string) => ({ registryId: '012345678910', repositoryName: name, repositoryArn: `arn:aws:ecr:us-west-2:012345678910:repository/${name}`, repositoryUri: `012345678910.dkr.ecr.us-west-2.amazonaws.com/${name}` });
  let denied = false;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        const body = JSON.parse(text) as Record<string, unknown>;
        requests.push({ headers: req.headers, body });
        if (denied) {
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'AccessDeniedException' }).end(JSON.stringify({ __type: 'AccessDeniedException', message: 'not authorized' }));
          return;
        }
        const page = body.nextToken === 'page-2' ? { repositories: [repo('test')] } : { repositories: [repo('ubuntu'), repo('team/api')], nextToken: 'page-2' };
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(page));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
  });

  it('lists every page, signed for ECR in the registry\'s region, with the sealed keys', async () => {
    const login = { username: 'AWS', password: 'token', aws: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' } };
    expect(await ecrRepositories(url, login, { endpoint })).toEqual(['ubuntu', 'team/api', 'test']);
    expect(requests).toHaveLength(2);
    expect(requests[0]!.headers['x-amz-target']).toBe('AmazonEC2ContainerRegistry_V20150921.DescribeRepositories');
    expect(requests[0]!.headers.authorization).toMatch(/Credential=AKIAIOSFODNN7EXAMPLE\/\d{8}\/us-west-2\/ecr\/aws4_request/);
    expect(requests[0]!.body).toEqual({ registryId: '012345678910', maxResults: 1000 });
    expect(requests[1]!.body).toEqual({ registryId: '012345678910', maxResults: 1000, nextToken: 'page-2' });
  });

  it('uses the keys a just-connected registry holds as its login, and says nothing for other hosts or a pull token alone', async () => {
    expect(await ecrRepositories(url, { username: 'AKIAIOSFODNN7EXAMPLE', password: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' }, { endpoint })).toHaveLength(3);
    expect(await ecrRepositories('https://public.ecr.aws', { username: 'a', password: 'b' }, { endpoint })).toBeUndefined();
    expect(await ecrRepositories(url, { username: 'AWS', password: 'token-without-keys' }, { endpoint })).toBeUndefined();
    expect(await ecrRepositories(url, undefined, { endpoint })).toBeUndefined();
  });

  it('says AWS refused, without the secret key', async () => {
    denied = true;
    const error = await ecrRepositories(url, { username: 'AKIAIOSFODNN7EXAMPLE', password: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' }, { endpoint }).catch((e: unknown) => e as Error);
    denied = false;
    expect(error).toMatchObject({ code: 'registry.ecr.repositories', kind: 'unauthorized', message: 'ECR DescribeRepositories in us-west-2 failed: AccessDeniedException' });
  });
});
