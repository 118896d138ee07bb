import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startProcess } from '../support/cli.js';

const tempDir = () => mkdtemp(path.join(os.tmpdir(), 'palisade-cli-'));

describe('palisade server on the embedded default', () => {
  it('creates an admin token on first start, shows it once, and serves with it', async () => {
    const cwd = await tempDir();
    const server = await startProcess(['server', '--port', '0'], { cwd });
    expect(server.adminToken).toMatch(/^pal_/);
    const alerts = await fetch(`${server.url}/api/v1/alerts`, { headers: { authorization: `Bearer ${server.adminToken}` } });
    expect(alerts.status).toBe(200);
    expect(await alerts.json()).toEqual({ items: [] });
    expect(await server.stop()).toBe(0);
    // The data dir holds only the hash.
    const again = await startProcess(['server', '--port', '0'], { cwd });
    expect(again.adminToken).toBeUndefined();
    expect(again.output()).not.toContain(server.adminToken!);
    const ok = await fetch(`${again.url}/api/v1/alerts`, { headers: { authorization: `Bearer ${server.adminToken}` } });
    expect(ok.status).toBe(200);
    expect(await again.stop()).toBe(0);
  });

  it('stops cleanly on SIGTERM: exit 0, data directory released for the next start', async () => {
    const cwd = await tempDir();
    const server = await startProcess(['server', '--port', '0'], { cwd });
    expect(await server.stop()).toBe(0);
    const next = await startProcess(['server', '--port', '0'], { cwd });
    expect((await fetch(`${next.url}/readyz`)).status).toBe(200);
    expect(await next.stop()).toBe(0);
  });

  it('refuses a port in use with one line naming the port and the fix', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const result = await runCli(['server', '--port', String(port)], { cwd: await tempDir() });
    blocker.close();
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toBe(`palisade: port ${port} on 127.0.0.1 is already in use (stop the other process or set PALISADE_PORT / --port)`);
  });

  it('names every bad key of a malformed palisade.yaml', async () => {
    const cwd = await tempDir();
    await writeFile(path.join(cwd, 'palisade.yaml'), 'port: eighty\ncolour: red\n');
    const result = await runCli(['server'], { cwd });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/port: must be an integer/);
    expect(result.stderr).toMatch(/colour: unknown key/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('rejects an unknown flag', async () => {
    const result = await runCli(['server', '--bogus'], { cwd: await tempDir() });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/unknown option '--bogus'/);
  });

  it('names an unwritable data directory', async () => {
    if (process.getuid?.() === 0) {
      // root writes anywhere; a path under a regular file is unwritable for everyone.
      const cwd = await tempDir();
      await writeFile(path.join(cwd, 'file'), '');
      const result = await runCli(['server', '--data-dir', path.join(cwd, 'file', 'data')], { cwd });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/data directory .*file\/data is not writable.*PALISADE_DATA_DIR/);
      return;
    }
    const cwd = await tempDir();
    await mkdir(path.join(cwd, 'ro'));
    await chmod(path.join(cwd, 'ro'), 0o500);
    const result = await runCli(['server', '--data-dir', path.join(cwd, 'ro', 'data')], { cwd });
    expect(result.stderr).toMatch(/not writable/);
  });

  it('names an unreachable PostgreSQL without printing its password', async () => {
    const result = await runCli(['server'], { cwd: await tempDir(), env: { PALISADE_DATABASE_URL: 'postgres://palisade:hunter2hunter2@127.0.0.1:1/palisade' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot connect to PostgreSQL at postgres:\/\/palisade:\*\*\*@127\.0\.0\.1:1\/palisade/);
    expect(result.stderr).not.toContain('hunter2');
  });

  it('refuses a data directory written by a newer version and leaves it untouched', async () => {
    const cwd = await tempDir();
    const server = await startProcess(['server', '--port', '0'], { cwd });
    await server.stop();
    // Simulate a newer Palisade: it applied a migration this one does not know.
    const { openStore } = await import('../../src/store/index.js');
    const store = await openStore({ dataDir: path.join(cwd, '.palisade') });
    await store.db.insertInto('palisade_migrations' as never).values({ name: '9000_future', timestamp: new Date().toISOString() } as never).execute();
    await store.close();
    const result = await runCli(['server', '--port', '0'], { cwd });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/was written by a newer version of Palisade \(unknown migrations: 9000_future\)/);
  });

  it('creates, lists and revokes tokens from the command line', async () => {
    const cwd = await tempDir();
    const created = await runCli(['token', 'create', '--scope', 'cluster:prod'], { cwd });
    expect(created.code).toBe(0);
    // Labelled, and says the secret is shown once.
    expect(created.stdout).toMatch(/shown once/);
    const field = (label: string) => new RegExp(`^${label}:\\s+(\\S+)$`, 'm').exec(created.stdout)?.[1];
    const [id, scope, secret] = [field('id'), field('scope'), field('secret')];
    expect(scope).toBe('cluster:prod');
    expect(secret).toMatch(/^pal_/);
    const listed = await runCli(['token', 'list', '--format', 'json'], { cwd });
    expect(listed.stdout).not.toContain(secret!);
    expect(JSON.parse(listed.stdout).items.map((t: { id: string }) => t.id)).toContain(id);
    expect((await runCli(['token', 'revoke', id!], { cwd })).stdout).toMatch(/revoked/);
    const bad = await runCli(['token', 'create', '--scope', 'superuser'], { cwd });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid token scope 'superuser'/);
  });

  it('fails a scan gate on an empty advisory database with exit 2 naming palisade db update', async () => {
    // The database is checked before the image is read: no image is needed to see the refusal.
    const result = await runCli(['scan', 'oci:/nonexistent:app', '--exit-code', '1'], { cwd: await tempDir(), timeoutMs: 120_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/advisory database is empty.*palisade db update.*--allow-empty-db/);
  }, 150_000);

  it('explains that separate workers need PostgreSQL', async () => {
    const result = await runCli(['worker'], { cwd: await tempDir() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/palisade worker needs PostgreSQL.*PALISADE_DATABASE_URL/);
  });

  it('keeps the data directory intact across a corrupt configuration start', async () => {
    const cwd = await tempDir();
    const server = await startProcess(['server', '--port', '0'], { cwd });
    await server.stop();
    const before = await readFile(path.join(cwd, '.palisade', 'pgdata', 'PG_VERSION'), 'utf8');
    await writeFile(path.join(cwd, 'palisade.yaml'), ': : :\n');
    expect((await runCli(['server'], { cwd })).code).toBe(1);
    expect(await readFile(path.join(cwd, '.palisade', 'pgdata', 'PG_VERSION'), 'utf8')).toBe(before);
  });
});

describe('palisade --version', () => {
  it('prints the version of the package it ships in, with or without other flags', async () => {
    const pkg = JSON.parse(await readFile(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const run = await runCli([flag]);
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe(pkg.version);
    }
  });
});
