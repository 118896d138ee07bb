import { readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/**
 * A scripted distribution endpoint serving an OCI layout, for what a real registry will not do on
 * demand: bearer-token challenges, serving a tampered manifest, redirecting blobs to another host.
 */
export interface FakeRegistryOptions {
  layout: string;
  /** `basic`: user:password; `bearer`: a token realm on the same server that checks user:password. */
  auth?: { scheme: 'basic' | 'bearer'; username: string; password: string };
  /** Base URL of another server that blob requests are redirected to (307). */
  redirectBlobsTo?: string;
  /** Serve manifests with one byte changed. */
  tamperManifests?: boolean;
}

export interface FakeServer {
  url: string;
  host: string;
  requests: Array<{ url: string; headers: IncomingHttpHeaders }>;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<{ host: string; url: string }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { host: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}` };
}

export async function startFakeRegistry(options: FakeRegistryOptions): Promise<FakeServer> {
  const requests: FakeServer['requests'] = [];
  const TOKEN = 'fake-token-7f3a';
  const index = JSON.parse(await readFile(path.join(options.layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; mediaType: string; annotations?: Record<string, string> }> };
  let base = '';
  const server = createServer((req, res) => {
    void (async () => {
      requests.push({ url: req.url ?? '', headers: req.headers });
      const url = new URL(req.url ?? '/', base);
      const auth = options.auth;
      if (auth && url.pathname === '/token') {
        const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
        if (req.headers.authorization !== expected || !url.searchParams.get('scope')?.startsWith('repository:')) {
          res.writeHead(401).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: TOKEN }));
        return;
      }
      if (auth) {
        const ok = auth.scheme === 'basic' ? req.headers.authorization === `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` : req.headers.authorization === `Bearer ${TOKEN}`;
        if (!ok) {
          const challenge = auth.scheme === 'basic' ? 'Basic realm="fake"' : `Bearer realm="${base}/token",service="fake-registry",scope="repository:demo/app:pull"`;
          res.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
          return;
        }
      }
      if (url.pathname === '/v2/') {
        res.writeHead(200).end('{}');
        return;
      }
      const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
      if (!m) {
        res.writeHead(404).end();
        return;
      }
      const [, , kind, reference] = m;
      let digest = reference!;
      let mediaType = 'application/octet-stream';
      if (kind === 'manifests') {
        const entry = index.manifests.find((e) => e.annotations?.['org.opencontainers.image.ref.name'] === reference || e.digest === reference);
        if (!entry && !reference!.startsWith('sha256:')) {
          res.writeHead(404).end();
          return;
        }
        digest = entry?.digest ?? reference!;
        mediaType = entry?.mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
      } else if (options.redirectBlobsTo) {
        res.writeHead(307, { location: `${options.redirectBlobsTo}/storage/${digest}?sig=abc` }).end();
        return;
      }
      let data: Buffer;
      try {
        data = await readFile(path.join(options.layout, 'blobs/sha256', digest.replace(/^sha256:/, '')));
      } catch {
        res.writeHead(404).end();
        return;
      }
      if (kind === 'manifests' && options.tamperManifests) {
        data = Buffer.from(data.toString('utf8').replace('"schemaVersion":2', '"schemaVersion": 2'));
      }
      res.writeHead(200, { 'content-type': mediaType, 'docker-content-digest': digest, 'content-length': data.length }).end(data);
    })();
  });
  const { host, url } = await listen(server);
  base = url;
  return { url, host, requests, close: () => new Promise((r) => server.close(() => r())) };
}

/** Blob storage on another host (think S3): serves blobs from a layout and records request headers. */
export async function startBlobStore(layout: string): Promise<FakeServer> {
  const requests: FakeServer['requests'] = [];
  const server = createServer((req, res) => {
    void (async () => {
      requests.push({ url: req.url ?? '', headers: req.headers });
      const m = /^\/storage\/sha256:([a-f0-9]{64})/.exec(req.url ?? '');
      try {
        const data = await readFile(path.join(layout, 'blobs/sha256', m?.[1] ?? 'none'));
        res.writeHead(200, { 'content-length': data.length }).end(data);
      } catch {
        res.writeHead(404).end();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  // `localhost` rather than 127.0.0.1: another origin, as a storage redirect would be.
  return { url: `http://localhost:${port}`, host: `localhost:${port}`, requests, close: () => new Promise((r) => server.close(() => r())) };
}
