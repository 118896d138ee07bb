/**
 * The vulnerability gate end to end, with the real parts: a real Distribution registry that
 * notifies Palisade, images pushed with skopeo and scanned by the server's own workers against the
 * fixture advisories, and real AdmissionReviews over HTTPS to the admission listener, verified
 * against the caBundle the server printed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/index.js';
import { runServer, type RunningProcess } from '../../src/server/index.js';
import { openStore } from '../../src/store/index.js';
import { importOsv } from '../../src/vulndb/index.js';
import { admissionReview, pod } from '../support/admission.js';
import { fixture, fixturesAvailable } from '../support/fixtures.js';
import { jsonOf } from '../support/http.js';
import { imageVariants } from '../support/image-variants.js';
import { registryAvailable, startRegistry, type LocalRegistry } from '../registry/registry.js';
import { appWithout } from './whiteout-image.js';
import { waitFor } from '../support/wait.js';

const ready = fixturesAvailable() && registryAvailable();

interface Answer { allowed: boolean; uid: string; status?: { code: number; message: string }; warnings?: string[] }

describe.skipIf(!ready)('image-vulnerabilities: admission gated on scan results', () => {
  let dir: string;
  let server: RunningProcess;
  let admin: string;
  let ca: string;
  let registry: LocalRegistry;
  let quiet: LocalRegistry;
  let stranger: Server;
  let strangerPort: number;
  let strangerConnections = 0;
  const cleanups: string[] = [];
  const digests: Record<string, string> = {};
  const api = (url: string, init: RequestInit = {}) => fetch(`${server.url}${url}`, { ...init, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });

  function review(object: unknown, uid = 'c0ffee00-0000-4000-8000-000000000001'): Promise<Answer> {
    const body = JSON.stringify(admissionReview(object, { uid }));
    return new Promise((resolve, reject) => {
      const request = https.request(`${server.admissionUrl}/admission/validate`, { method: 'POST', ca, headers: { 'content-type': 'application/json' } }, (response) => {
        let data = '';
        response.on('data', (d: Buffer) => (data += d));
        response.on('end', () => {
          if (response.statusCode !== 200) reject(new Error(`HTTP ${response.statusCode}: ${data}`));
          else resolve((JSON.parse(data) as { response: Answer }).response);
        });
      });
      request.on('error', reject);
      request.end(body);
    });
  }

  const scannedDigest = (repository: string) => waitFor(`the scan of ${repository}`, async () => {
    const items = (await jsonOf(api(`/api/v1/images?repository=${repository}`))).items as Array<{ digest: string; lastScanned: string | null }>;
    return items[0]?.lastScanned ? items[0].digest : undefined;
  });

  async function findingIds(digest: string, severity: string): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await jsonOf(api(`/api/v1/images/${digest}/findings?limit=100${cursor ? `&cursor=${cursor}` : ''}`));
      ids.push(...(page.items as Array<{ id: string; severity: string }>).filter((f) => f.severity === severity).map((f) => f.id));
      cursor = page.next;
    } while (cursor);
    return ids;
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-gate-e2e-'));
    const store = await openStore({ dataDir: dir });
    await importOsv(store, [fixture('osv', 'debian'), fixture('osv', 'npm')]);
    await store.close();
    const policyFile = path.join(dir, 'policies.yaml');
    await writeFile(policyFile, [
      'policies:',
      '  image-vulnerabilities:',
      '    effect: deny',
      '    parameters: { severity: critical, requireScan: true }',
      '',
    ].join('\n'));
    const printed: string[] = [];
    server = await runServer(loadConfig({ env: {}, cwd: dir, flags: { dataDir: dir, port: 0, admissionPort: 0, policyFile, logLevel: process.env.TEST_LOG_LEVEL ?? 'warn' } }), { print: (l) => printed.push(l) });
    admin = /pal_[\w-]+/.exec(printed.join('\n'))![0];
    ca = Buffer.from(/: (\S+)$/.exec(printed.find((l) => l.includes('caBundle'))!)![1]!, 'base64').toString('utf8');

    const token = (await jsonOf(api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ scope: 'registry:local' }) }))).secret as string;
    registry = await startRegistry({ notifications: { url: `${server.url}/ingest/registry/local`, token } });
    expect((await api('/api/v1/registries', { method: 'POST', body: JSON.stringify({ name: 'local', url: registry.url, kind: 'distribution' }) })).status).toBe(201);
    // A second connected registry that sends no webhooks: Palisade learns of its images only at admission.
    quiet = await startRegistry();
    expect((await api('/api/v1/registries', { method: 'POST', body: JSON.stringify({ name: 'quiet', url: quiet.url, kind: 'distribution' }) })).status).toBe(201);

    // A host nobody connected, listening, so any request Palisade made to it would be counted.
    stranger = createServer((socket) => {
      strangerConnections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => stranger.listen(0, '127.0.0.1', resolve));
    strangerPort = (stranger.address() as { port: number }).port;

    const lite = await appWithout('app/node_modules/minimist', 'lite');
    cleanups.push(lite.dir);
    await registry.push(`oci:${fixture('images', 'debian12')}:app`, 'demo/app:1');
    await registry.push(`oci:${lite.layout}:lite`, 'demo/lite:1');
    digests.app = await scannedDigest('demo/app');
    digests.lite = await scannedDigest('demo/lite');
  }, 600_000);

  afterAll(async () => {
    stranger?.close();
    await registry?.stop();
    await quiet?.stop();
    await server?.stop().catch(() => {});
    for (const d of cleanups) await rm(d, { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('premise: app has a critical finding (minimist); lite, the same image without minimist, has high ones and no critical', async () => {
    expect(await findingIds(digests.app!, 'critical')).toEqual(['GHSA-xvch-5gv4-984h']);
    expect(await findingIds(digests.lite!, 'critical')).toEqual([]);
    expect(await findingIds(digests.lite!, 'high')).toContain('GHSA-35jh-r3h4-6jhm');
  });

  it('denies a pod by tag, the tag resolved through the connected registry, naming the finding with its fix', async () => {
    const answer = await review(pod('web', `${registry.host}/demo/app:1`));
    expect(answer).toMatchObject({ uid: 'c0ffee00-0000-4000-8000-000000000001', allowed: false, status: { code: 403 } });
    expect(answer.status!.message).toContain(`[image-vulnerabilities] container "c" image "${registry.host}/demo/app:1" (${digests.app!.slice(0, 19)}) has 1 finding at or above critical: GHSA-xvch-5gv4-984h (critical) in minimist 1.2.5 → 1.2.6`);
  });

  it('denies by digest, and a Deployment\'s pod template like a pod', async () => {
    const byDigest = await review(pod('web', `${registry.host}/demo/app@${digests.app}`));
    expect(byDigest.allowed).toBe(false);
    expect(byDigest.status!.message).toContain('GHSA-xvch-5gv4-984h (critical) in minimist 1.2.5 → 1.2.6');
    const deployment = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' },
      spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: `${registry.host}/demo/app:1` }] } } },
    };
    const answer = await review(deployment);
    expect(answer.allowed).toBe(false);
    expect(answer.status!.message).toContain('container "web" image');
  });

  it('allows an image whose worst finding is high when the gate is set at critical', async () => {
    const answer = await review(pod('lite', `${registry.host}/demo/lite:1`));
    expect(answer.status?.message).toBeUndefined();
    expect(answer.allowed).toBe(true);
  });

  it('requireScan: denies an image from a host nobody connected, by tag or unknown digest, without sending it a single request', async () => {
    const byTag = await review(pod('evil', `127.0.0.1:${strangerPort}/evil/app:1`));
    expect(byTag.allowed).toBe(false);
    expect(byTag.status!.message).toContain(`image "127.0.0.1:${strangerPort}/evil/app:1" has no Palisade vulnerability scan: registry 127.0.0.1:${strangerPort} is not connected to Palisade`);
    const byDigest = await review(pod('evil', `127.0.0.1:${strangerPort}/evil/app@sha256:${'e'.repeat(64)}`));
    expect(byDigest.allowed).toBe(false);
    expect(byDigest.status!.message).toMatch(/Palisade has not scanned sha256:eeeeeeeeeeee, and registry 127\.0\.0\.1:\d+ is not connected/);
    // The same bytes from any host are judged by their digest, still without asking the host.
    const known = await review(pod('evil', `127.0.0.1:${strangerPort}/mirror/app@${digests.app}`));
    expect(known.status!.message).toContain('GHSA-xvch-5gv4-984h');
    expect(strangerConnections).toBe(0);
  });

  it('requireScan: scans an image of a connected registry Palisade has not seen, within the deadline or on the retry', async () => {
    const variants = await imageVariants(1, 'gate');
    cleanups.push(variants.dir);
    await quiet.push(`oci:${variants.layout}:variant-0`, 'team/tool:1');
    const first = await review(pod('tool', `${quiet.host}/team/tool:1`));
    expect(first.allowed).toBe(false);
    // Either the scan finished within the deadline and names the finding, or the denial says it is still running.
    expect(first.status!.message).toMatch(/GHSA-xvch-5gv4-984h|could not check it within the admission deadline/);
    const scanned = await waitFor('the admission scan', async () => {
      const answer = await review(pod('tool', `${quiet.host}/team/tool:1`));
      return answer.status?.message.includes('GHSA-xvch-5gv4-984h') ? answer : undefined;
    }, 180_000);
    expect(scanned.status!.message).toContain(`(${variants.digests[0]!.slice(0, 19)})`);
    // The image joined the registry's inventory, scanned, as if polling had found it.
    const listed = (await jsonOf(api('/api/v1/images?registry=quiet'))).items;
    expect(listed).toEqual([expect.objectContaining({ repository: 'team/tool', digest: variants.digests[0], tags: ['1'], lastScanned: expect.any(String) })]);
    digests.tool = variants.digests[0]!;
  });

  it('allows the image once an OpenVEX statement says its critical finding does not affect it', async () => {
    const vex = {
      '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://example.com/vex/team-tool-1', author: 'security@example.com', timestamp: new Date().toISOString(), version: 1,
      statements: [{ vulnerability: { name: 'GHSA-xvch-5gv4-984h' }, products: [{ '@id': digests.tool }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' }],
    };
    expect((await api('/api/v1/vex', { method: 'POST', body: JSON.stringify(vex) })).status).toBe(201);
    // An image's findings are re-read every 10 s by the gate.
    const answer = await waitFor('the VEX statement to apply', async () => {
      const a = await review(pod('tool', `${quiet.host}/team/tool:1`));
      return a.allowed ? a : undefined;
    }, 30_000);
    expect(answer.status).toBeUndefined();
  });

  it('allows the image once an admin exempts it from the registry recommendation', async () => {
    const expiresAt = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const created = await api('/api/v1/recommendations/exemptions', {
      method: 'POST',
      body: JSON.stringify({ policy: 'registry-images-vulnerabilities', scope: 'registry:local', resource: `local/demo/app@${digests.app}`, reason: 'minimist is only used by the build (SEC-311)', expiresAt }),
    });
    expect(created.status).toBe(201);
    // Exemptions are re-read every 10 s by the gate.
    const answer = await waitFor('the exemption to apply', async () => {
      const a = await review(pod('web', `${registry.host}/demo/app:1`));
      return a.allowed ? a : undefined;
    }, 30_000);
    expect(answer.allowed).toBe(true);
    expect((await review(pod('web', `${registry.host}/demo/app@${digests.app}`))).allowed).toBe(true);
  });
});
