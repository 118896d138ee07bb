import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startProcess, type ServerProcess } from '../support/cli.js';
import { fixture, fixturesAvailable } from '../support/fixtures.js';

function run(file: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => execFile(file, args, { cwd }, (error) => (error ? reject(error) : resolve())));
}

/**
 * The README's set-up: `npm start` (a server on the embedded default, ./.palisade) and, in a second
 * shell in the same directory, `palisade token create` / `registry add`. The embedded database
 * serves one process, so these commands must go through the running server's API.
 */
describe('management commands beside a running server on the embedded default', () => {
  let cwd: string;
  let server: ServerProcess;
  const discoveryFile = () => path.join(cwd, '.palisade', 'server.json');

  beforeAll(async () => {
    cwd = await mkdtemp(path.join(os.tmpdir(), 'palisade-beside-'));
    server = await startProcess(['server', '--port', '0'], { cwd, timeoutMs: 120_000 });
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('leaves a 0600 file with its URL and a local admin credential in the data directory', async () => {
    expect(statSync(discoveryFile()).mode & 0o777).toBe(0o600);
    const discovery = JSON.parse(await readFile(discoveryFile(), 'utf8')) as { url: string; token: string };
    expect(discovery.url).toBe(server.url);
    // The credential is an admin token the server accepts, and not the user's admin token.
    expect(discovery.token).not.toBe(server.adminToken);
    expect((await fetch(`${server.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${discovery.token}` } })).status).toBe(200);
    // The ready line says where the dashboard is and where the admin token went.
    expect(server.output()).toMatch(/"dashboard":"http:\/\/127\.0\.0\.1:\d+\/"/);
    expect(server.output()).toMatch(/"adminToken":"printed above/);
  });

  it('serves the API docs page, its scripts and logo from the built program', async () => {
    // The bundle carries Swagger UI's plugin; its files stay in the installed package.
    const page = await fetch(`${server.url}/docs/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger-ui-bundle.js');
    for (const [file, type] of [['swagger-ui-bundle.js', 'javascript'], ['logo.svg', 'image/svg+xml']] as const) {
      const asset = await fetch(`${server.url}/docs/static/${file}`);
      expect(asset.status, file).toBe(200);
      expect(asset.headers.get('content-type'), file).toContain(type);
      expect((await asset.arrayBuffer()).byteLength, file).toBeGreaterThan(1000);
    }
    expect(await (await fetch(`${server.url}/docs/yaml`)).text()).toMatch(/^openapi: 3\./);
  });

  it('token create works beside it, labelled, and the token is one the server accepts', { timeout: 300_000 }, async () => {
    const created = await runCli(['token', 'create', '--scope', 'admin', '--name', 'ci'], { cwd, timeoutMs: 120_000 });
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/shown once/);
    const secret = /^secret:\s+(pal_\S+)$/m.exec(created.stdout)?.[1];
    expect(secret).toBeDefined();
    const me = await fetch(`${server.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${secret}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { items: Array<{ name: string }> }).items.map((t) => t.name)).toContain('ci');
  });

  it('registry add works beside it and the registry is in the running server', { timeout: 300_000 }, async () => {
    const added = await runCli(['registry', 'add', 'local', '--url', 'http://127.0.0.1:5999', '--server-url', 'https://palisade.example.com'], { cwd, timeoutMs: 120_000 });
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^ingest token \(shown once\): pal_/m);
    expect(added.stdout).toContain('webhook URL: https://palisade.example.com/ingest/registry/local');
    const registries = await fetch(`${server.url}/api/v1/registries`, { headers: { authorization: `Bearer ${server.adminToken}` } });
    expect(JSON.stringify(await registries.json())).toContain('"local"');
  });

  it('lists alerts and images through it', { timeout: 300_000 }, async () => {
    const alerts = await runCli(['alerts', '--format', 'json'], { cwd, timeoutMs: 120_000 });
    expect(alerts.code).toBe(0);
    expect(JSON.parse(alerts.stdout)).toEqual({ items: [], more: false });
    const images = await runCli(['images'], { cwd, timeoutMs: 120_000 });
    expect(images.code).toBe(0);
    expect(images.stderr).toMatch(/no images scanned yet/);
  });

  it('a command that needs the data directory itself names the running server and what to do', { timeout: 300_000 }, async () => {
    // db update downloads from osv.dev into the database itself: it still needs the directory (the
    // server runs the same update on its own schedule). It fails on opening, before any download.
    const update = await runCli(['db', 'update', '--ecosystem', 'npm'], { cwd, timeoutMs: 120_000 });
    expect(update.code).toBe(1);
    expect(update.stderr).toContain(`the Palisade server at ${server.url}`);
    expect(update.stderr).toMatch(/`palisade db update` needs the data directory to itself: stop the server/);
    expect(update.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.skipIf(!fixturesAvailable())('db import streams files to it, db status asks it, and scan reads what it published', { timeout: 400_000 }, async () => {
    const empty = await runCli(['db', 'status', '--format', 'json'], { cwd, timeoutMs: 120_000 });
    expect(empty.stderr).toBe('');
    expect(empty.code).toBe(0);
    expect(JSON.parse(empty.stdout)).toMatchObject({ advisories: 0, ecosystems: [] });

    // A zip archive (as osv.dev publishes) and a single JSON record, in one command.
    const work = await mkdtemp(path.join(os.tmpdir(), 'palisade-beside-osv-'));
    const archive = path.join(work, 'go.zip');
    await run('zip', ['-qr', archive, '.'], fixture('osv', 'go'));
    const single = fixture('osv', 'npm', 'GHSA-35jh-r3h4-6jhm.json');
    const imported = await runCli(['db', 'import', archive, single], { cwd, timeoutMs: 120_000 });
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain(`imported ${archive} through ${server.url}: 153 added, 0 changed, 0 unchanged, 0 skipped`);
    expect(imported.stdout).toContain(`imported ${single} through ${server.url}: 1 added`);

    // The running server holds them: its own API and the CLI's table say the same.
    const byApi = await (await fetch(`${server.url}/api/v1/db/status`, { headers: { authorization: `Bearer ${server.adminToken}` } })).json() as { advisories: number };
    expect(byApi.advisories).toBe(154);
    const table = await runCli(['db', 'status'], { cwd, timeoutMs: 120_000 });
    expect(table.code).toBe(0);
    const rows = table.stdout.trim().split('\n').map((l) => l.split('\t'));
    expect(rows.find((r) => r[0] === 'Go')?.[1]).toBe('153');
    expect(rows.find((r) => r[0] === 'npm')?.[1]).toBe('1');

    // scan beside the server reads the advisory file the server's import published: no data directory
    // lock, and the npm advisory just imported (lodash 4.17.20 in the image's /app) is found.
    const scanned = await runCli(['scan', `oci:${fixture('images', 'debian12')}:app`, '--format', 'json', '--offline'], { cwd, timeoutMs: 240_000 });
    expect(scanned.stderr).not.toMatch(/in use|needs the data directory/);
    expect(scanned.code).toBe(0);
    const report = JSON.parse(scanned.stdout) as { vulnerabilities: Array<{ id: string; package: { name: string } }> };
    expect(report.vulnerabilities.some((v) => v.id === 'GHSA-35jh-r3h4-6jhm' && v.package.name === 'lodash')).toBe(true);

    // Importing the same archive again changes nothing.
    const again = await runCli(['db', 'import', archive, '--format', 'json'], { cwd, timeoutMs: 120_000 });
    expect(JSON.parse(again.stdout)).toMatchObject({ added: [], changed: [], unchanged: 153 });

    // A directory cannot be streamed: the error says to zip it or stop the server.
    const directory = await runCli(['db', 'import', fixture('osv', 'npm')], { cwd, timeoutMs: 120_000 });
    expect(directory.code).toBe(1);
    expect(directory.stderr).toMatch(/cannot send directory .* \(zip it first \(zip -qr osv\.zip /);

    // A file that is neither OSV JSON nor a zip of it: 422 naming the file, as the CLI reports it.
    const junk = path.join(work, 'notes.txt');
    await writeFile(junk, 'not an advisory\n');
    const refused = await runCli(['db', 'import', junk], { cwd, timeoutMs: 120_000 });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/notes\.txt holds no OSV record/);
  });

  it('the import route refuses what it cannot take with a 4xx naming it, and callers without a token', { timeout: 120_000 }, async () => {
    const auth = { authorization: `Bearer ${server.adminToken}` };
    expect((await fetch(`${server.url}/api/v1/db/status`)).status).toBe(401);
    expect((await fetch(`${server.url}/api/v1/db/import`, { method: 'POST', body: 'x', headers: { 'content-type': 'application/octet-stream' } })).status).toBe(401);
    const empty = await fetch(`${server.url}/api/v1/db/import`, { method: 'POST', body: '', headers: { ...auth, 'content-type': 'application/octet-stream' } });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ code: 'vulndb.import.empty' });
    const badName = await fetch(`${server.url}/api/v1/db/import?name=${encodeURIComponent('../etc/passwd')}`, { method: 'POST', body: '{}', headers: { ...auth, 'content-type': 'application/octet-stream' } });
    expect(badName.status).toBe(400);
    expect(JSON.stringify(await badName.json())).toMatch(/name/);
    // A declared size over the limit is refused before a byte is stored.
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL(`${server.url}/api/v1/db/import`);
      const request = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...auth, 'content-type': 'application/zip', 'content-length': String(5 * 1024 ** 3) } }, (response) => {
        let body = '';
        response.on('data', (d: Buffer) => (body += d));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      request.on('error', reject);
      request.write('PK');
    });
    expect(status.status).toBe(413);
    expect(JSON.parse(status.body)).toMatchObject({ code: 'vulndb.import.too_large' });
  });

  it('talks to a server named by --server and --token-file, or PALISADE_SERVER and PALISADE_TOKEN, from anywhere', { timeout: 300_000 }, async () => {
    const elsewhere = await mkdtemp(path.join(os.tmpdir(), 'palisade-elsewhere-'));
    const tokenFile = path.join(elsewhere, 'token');
    await writeFile(tokenFile, `${server.adminToken}\n`, { mode: 0o600 });
    const byFlag = await runCli(['token', 'list', '--format', 'json', '--server', server.url, '--token-file', tokenFile], { cwd: elsewhere, timeoutMs: 120_000 });
    expect(byFlag.code).toBe(0);
    expect(JSON.parse(byFlag.stdout).items.map((t: { name: string }) => t.name)).toContain('ci');
    const byEnv = await runCli(['token', 'list', '--format', 'json'], { cwd: elsewhere, env: { PALISADE_SERVER: server.url, PALISADE_TOKEN: server.adminToken! }, timeoutMs: 120_000 });
    expect(JSON.parse(byEnv.stdout).items.map((t: { name: string }) => t.name)).toContain('ci');
    // Nothing was created where the command ran.
    expect(existsSync(path.join(elsewhere, '.palisade'))).toBe(false);
    const refused = await runCli(['token', 'list', '--server', server.url], { cwd: elsewhere, env: { PALISADE_TOKEN: 'pal_not-a-token' }, timeoutMs: 120_000 });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/token was refused/);
    const missing = await runCli(['token', 'list', '--server', server.url], { cwd: elsewhere, timeoutMs: 120_000 });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no token for .*--token-file.*PALISADE_TOKEN/);
    // A server that is not there: the address and why, not a stack.
    const closed = await new Promise<number>((resolve) => {
      const probe = http.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const gone = await runCli(['token', 'list', '--server', `http://127.0.0.1:${closed}`], { cwd: elsewhere, env: { PALISADE_TOKEN: server.adminToken! }, timeoutMs: 120_000 });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(new RegExp(`cannot reach the Palisade server at http://127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\)`));
  });

  it('on stop removes the file and revokes its credential; commands then work on the data directory', async () => {
    const { token } = JSON.parse(await readFile(discoveryFile(), 'utf8')) as { token: string };
    const url = server.url;
    expect(await server.stop()).toBe(0);
    expect(existsSync(discoveryFile())).toBe(false);
    expect(server.output()).toMatch(/palisade server stopped/);
    const listed = await runCli(['token', 'list', '--format', 'json', '--revoked'], { cwd, timeoutMs: 120_000 });
    expect(listed.code).toBe(0);
    const items = JSON.parse(listed.stdout).items as Array<{ name: string; revokedAt: string | null }>;
    expect(items.find((t) => t.name === 'ci')?.revokedAt).toBeNull();
    expect(items.filter((t) => t.name.startsWith('local CLI')).every((t) => t.revokedAt)).toBe(true);
    // The next run gets a new credential; the old one is refused by it.
    const next = await startProcess(['server', '--port', '0'], { cwd, timeoutMs: 120_000 });
    try {
      expect((await fetch(`${next.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    } finally {
      await next.stop();
    }
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:/);
  }, 300_000);
});
