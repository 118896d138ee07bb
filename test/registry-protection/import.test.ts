import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/index.js';
import { importImage } from '../../src/registry/index.js';
import { runServer, type RunningProcess } from '../../src/server/index.js';
import { fixture, fixturesAvailable } from '../support/fixtures.js';
import { runCli } from '../support/cli.js';
import type { Body } from '../support/http.js';
import { registryAvailable, startRegistry, type LocalRegistry } from '../registry/registry.js';

const run = promisify(execFile);
const ready = fixturesAvailable() && registryAvailable();

describe.skipIf(!ready)('palisade registry import between real registries', () => {
  let dir: string;
  let server: RunningProcess;
  let admin: string;
  let source: LocalRegistry;
  let target: LocalRegistry;
  const api = async (url: string, init: RequestInit = {}): Promise<Body> => (await fetch(`${server.url}${url}`, { ...init, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' } })).json();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-import-'));
    const printed: string[] = [];
    server = await runServer(loadConfig({ env: {}, cwd: dir, flags: { dataDir: dir, port: 0, logLevel: 'warn' } }), { print: (l) => printed.push(l) });
    admin = /pal_[\w-]+/.exec(printed.join('\n'))![0];
    const token = (await api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ scope: 'registry:target' }) })).secret as string;
    source = await startRegistry();
    target = await startRegistry({ notifications: { url: `${server.url}/ingest/registry/target`, token } });
    await api('/api/v1/registries', { method: 'POST', body: JSON.stringify({ name: 'target', url: target.url, kind: 'distribution' }) });
    await source.push(`oci:${fixture('images', 'debian12')}:app`, 'team/app:1');
  });
  afterAll(async () => {
    await source?.stop();
    await target?.stop();
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('streams an image to another registry byte for byte, and Palisade scans it as an import', async () => {
    const result = await runCli(['registry', 'import', `${source.host}/team/app:1`, `docker://${target.host}/mirror/app:1`, '--insecure', '--format', 'json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ manifests: 1, blobsCopied: 3, blobsMounted: 0 });
    // Same digest on both sides: the manifest bytes were copied unchanged.
    const inspect = async (ref: string) => JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`])).stdout).Digest as string;
    expect(await inspect(`${target.host}/mirror/app:1`)).toBe(await inspect(`${source.host}/team/app:1`));
    expect(report.digest).toBe(await inspect(`${source.host}/team/app:1`));

    const deadline = Date.now() + 60_000;
    let image: { imported: boolean; lastScanned: string | null } | undefined;
    while (Date.now() < deadline) {
      image = (await api('/api/v1/images?registry=target')).items[0];
      if (image?.lastScanned) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(image).toMatchObject({ imported: true, lastScanned: expect.any(String) });
  });

  it('mounts blobs across repositories of the same registry instead of copying them', async () => {
    const report = await importImage(`${target.host}/mirror/app:1`, `${target.host}/other/app:1`, { insecure: true });
    expect(report).toMatchObject({ blobsMounted: 3, blobsCopied: 0 });
    const again = await importImage(`${target.host}/mirror/app:1`, `${target.host}/other/app:2`, { insecure: true });
    expect(again).toMatchObject({ blobsPresent: 3, blobsCopied: 0, blobsMounted: 0 });
  });

  it('names a missing source image', async () => {
    await expect(importImage(`${source.host}/team/nothing:1`, `${target.host}/x/y:1`, { insecure: true })).rejects.toThrow(/team\/nothing: manifest 1 not found/);
  });
});
