import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A real Distribution registry (Debian's `docker-registry`) on a free loopback port with its own
 * temp storage, optionally behind htpasswd basic auth. One per test file; `stop()` kills it and
 * removes its storage.
 */
export interface LocalRegistry {
  host: string;
  port: number;
  url: string;
  credentials?: { username: string; password: string };
  /** `skopeo copy SRC docker://HOST/DEST` with the registry's credentials. */
  push(source: string, destination: string): Promise<void>;
  stop(): Promise<void>;
}

/** True when the registry tools are installed; in CI their absence is an error, never a silent skip. */
export function registryAvailable(): boolean {
  const dirs = (process.env.PATH ?? '').split(':');
  const missing = ['docker-registry', 'skopeo', 'htpasswd'].filter((bin) => !dirs.some((dir) => existsSync(path.join(dir, bin))));
  if (missing.length && process.env.CI === 'true') throw new Error(`${missing.join(', ')} not installed: scripts/install-test-deps.sh installs them`);
  return missing.length === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RegistryOptions {
  basicAuth?: { username: string; password: string };
  /** Send Distribution notifications (webhooks) to this URL with this bearer token. */
  notifications?: { url: string; token: string };
  /** Bearer-token auth through a token server (startTokenServer); `credentials` are what `push` uses. */
  tokenAuth?: { server: TokenServer; credentials: { username: string; password: string } };
}

export async function startRegistry(options: RegistryOptions = {}): Promise<LocalRegistry> {
  const dir = await mkdtemp(path.join(tmpdir(), 'palisade-registry-'));
  const port = await freePort();
  let auth = '';
  if (options.basicAuth) {
    const { stdout } = await run('htpasswd', ['-Bbn', options.basicAuth.username, options.basicAuth.password]);
    await writeFile(path.join(dir, 'htpasswd'), stdout);
    auth = `auth:\n  htpasswd:\n    realm: palisade-test\n    path: ${path.join(dir, 'htpasswd')}\n`;
  }
  if (options.tokenAuth) {
    const t = options.tokenAuth.server;
    auth = `auth:\n  token:\n    realm: ${t.realm}\n    service: ${t.service}\n    issuer: ${t.issuer}\n    rootcertbundle: ${t.certFile}\n`;
  }
  const pushCredentials = options.basicAuth ?? options.tokenAuth?.credentials;
  const config = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${path.join(dir, 'storage')}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
${auth}${options.notifications ? notificationsConfig(options.notifications) : ''}`;
  await writeFile(path.join(dir, 'config.yml'), config);
  const child: ChildProcess = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    try {
      const response = await fetch(`${url}/v2/`);
      if (response.status === 200 || response.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const host = `127.0.0.1:${port}`;
  return {
    host,
    port,
    url,
    ...(pushCredentials ? { credentials: pushCredentials } : {}),
    async push(source, destination) {
      const args = ['copy', '--quiet', '--dest-tls-verify=false'];
      if (pushCredentials) args.push('--dest-creds', `${pushCredentials.username}:${pushCredentials.password}`);
      args.push(source, `docker://${host}/${destination}`);
      await run('skopeo', args, { maxBuffer: 1 << 20 });
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            r(undefined);
          }, 3000);
          child.once('exit', () => {
            clearTimeout(timer);
            r(undefined);
          });
        });
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `skopeo copy` between local transports (oci:, oci-archive:, docker-archive:). */
export async function skopeoCopy(source: string, destination: string, extra: string[] = []): Promise<void> {
  await run('skopeo', ['copy', '--quiet', ...extra, source, destination], { maxBuffer: 1 << 20 });
}

function notificationsConfig(target: { url: string; token: string }): string {
  return `notifications:
  endpoints:
    - name: palisade
      url: ${target.url}
      headers:
        Authorization: [Bearer ${target.token}]
      timeout: 5s
      threshold: 3
      backoff: 1s
`;
}

/**
 * A Docker token server (the `WWW-Authenticate: Bearer realm=…` flow) for a real registry: checks
 * user:password with basic auth and issues RS256 JWTs carrying the certificate (x5c) that the
 * registry trusts through `auth.token.rootcertbundle`.
 */
export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
  requests: string[];
  close(): Promise<void>;
}

export async function startTokenServer(dir: string, users: Record<string, string>): Promise<TokenServer> {
  const { createServer: createHttpServer } = await import('node:http');
  const { createSign, X509Certificate } = await import('node:crypto');
  const { readFile } = await import('node:fs/promises');
  const keyFile = path.join(dir, 'token.key');
  const certFile = path.join(dir, 'token.crt');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=palisade-test-token']);
  const key = await readFile(keyFile, 'utf8');
  const der = new X509Certificate(await readFile(certFile)).raw.toString('base64');
  const service = 'palisade-test-registry';
  const issuer = 'palisade-test-issuer';
  const requests: string[] = [];
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const server = createHttpServer((req, res) => {
    requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    const [scheme, encoded] = (req.headers.authorization ?? '').split(' ');
    const [user, ...rest] = scheme === 'Basic' && encoded ? Buffer.from(encoded, 'base64').toString().split(':') : [];
    if (!user || users[user] !== rest.join(':')) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="token"' }).end();
      return;
    }
    const access = url.searchParams.getAll('scope').flatMap((scope) => {
      const [type, ...nameAndActions] = scope.split(':');
      const actions = nameAndActions.pop()?.split(',') ?? [];
      return [{ type, name: nameAndActions.join(':'), actions }];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [der] };
    const claims = { iss: issuer, sub: user, aud: url.searchParams.get('service') ?? service, exp: now + 300, nbf: now - 10, iat: now, jti: `${now}-${Math.random()}`, access };
    const body = `${b64(header)}.${b64(claims)}`;
    const signature = createSign('RSA-SHA256').update(body).sign(key).toString('base64url');
    const token = `${body}.${signature}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { realm: `http://127.0.0.1:${port}/token`, service, issuer, certFile, requests, close: () => new Promise((r) => server.close(() => r())) };
}
