import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { runCli, startProcess, type ServerProcess } from '../support/cli.js';
import { fixture, fixturesAvailable } from '../support/fixtures.js';
import { freePort, registryAvailable, startRegistry, type LocalRegistry } from '../registry/registry.js';

const ready = fixturesAvailable() && registryAvailable();

describe.skipIf(!ready)('registry protection across a crash of Palisade', () => {
  let registry: LocalRegistry | undefined;
  let server: ServerProcess | undefined;
  let dir: string | undefined;
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('scans every pushed digest exactly once although the server was killed mid-scan', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-restart-'));
    const cwd = dir;
    const port = await freePort();
    expect((await runCli(['db', 'import', fixture('osv', 'debian')], { cwd })).code).toBe(0);
    const token = (JSON.parse((await runCli(['token', 'create', '--scope', 'registry:local', '--format', 'json'], { cwd })).stdout) as { secret: string }).secret;
    registry = await startRegistry({ notifications: { url: `http://127.0.0.1:${port}/ingest/registry/local`, token } });
    expect((await runCli(['registry', 'add', 'local', '--url', registry.url], { cwd })).code).toBe(0);

    server = await startProcess(['server', '--port', String(port)], { cwd });
    const admin = server.adminToken!;
    await registry.push(`oci:${fixture('images', 'debian12')}:minbase`, 'demo/base:1');
    await registry.push(`oci:${fixture('images', 'debian12')}:app`, 'demo/app:1');
    // Kill as soon as a scan has started: no graceful shutdown, the job left active.
    const deadline = Date.now() + 30_000;
    while (!server.output().includes('"msg":"scanning image"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await server.stop('SIGKILL');

    // A push made while Palisade is down is delivered when it is back (the registry retries).
    await registry.push(`oci:${fixture('images', 'debian12')}:app`, 'demo/app:2');
    server = await startProcess(['server', '--port', String(port)], { cwd });
    const images = async () => ((await (await fetch(`${server!.url}/api/v1/images`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { items: Array<{ repository: string; tags: string[]; lastScanned: string | null }> }).items;
    const waitUntil = Date.now() + 90_000;
    for (;;) {
      const items = await images();
      if (items.length === 2 && items.every((i) => i.lastScanned) && items.some((i) => i.tags.length === 2)) break;
      if (Date.now() > waitUntil) throw new Error(`not all scanned: ${JSON.stringify(items)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await server.stop();
    server = undefined;

    const store = await openStore({ dataDir: path.join(cwd, '.palisade') });
    try {
      const scans = await store.db.selectFrom('image_scans').select(['digest']).where('status', '=', 'succeeded').execute();
      const perDigest = new Map<string, number>();
      for (const s of scans) perDigest.set(s.digest, (perDigest.get(s.digest) ?? 0) + 1);
      const images = await store.db.selectFrom('images').select(['digest', 'repository', 'tags', 'last_scanned']).orderBy('repository').execute();
      expect(images.map((i) => [i.repository, i.last_scanned !== null])).toEqual([['demo/app', true], ['demo/base', true]]);
      expect(images.find((i) => i.repository === 'demo/app')!.tags.sort()).toEqual(['1', '2']);
      expect([...perDigest.values()]).toEqual([1, 1]);
    } finally {
      await store.close();
    }
  }, 180_000);
});
