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

export function registryAvailable(): boolean {
  const dirs = (process.env.PATH ?? '').split(':');
  return ['docker-registry', 'skopeo', 'htpasswd'].every((bin) => dirs.some((dir) => existsSync(path.join(dir, bin))));
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
    ...(options.basicAuth ? { credentials: options.basicAuth } : {}),
    async push(source, destination) {
      const args = ['copy', '--quiet', '--dest-tls-verify=false'];
      if (options.basicAuth) args.push('--dest-creds', `${options.basicAuth.username}:${options.basicAuth.password}`);
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
