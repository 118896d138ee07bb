import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importOsv } from '../../src/vulndb/index.js';
import { bearer, createTestApp, type TestApp } from '../support/app.js';
import { fixture, fixturesAvailable } from '../support/fixtures.js';
import { registryAvailable, startRegistry, startTokenServer, type LocalRegistry, type TokenServer } from '../registry/registry.js';
import { openApiChecker } from './openapi.js';
import { spdxValidator } from './spdx-schema.js';

const run = promisify(execFile);
const ready = fixturesAvailable() && registryAvailable();
const SPEC = path.join(import.meta.dirname, '../../src/registry/harbor/spec/scanner-adapter-openapi-v1.2.yaml');
const spec = openApiChecker(SPEC);

const SCAN_REQUEST = 'application/vnd.scanner.adapter.scan.request+json; version=1.1';
const SECURITY_REPORT = 'application/vnd.security.vulnerability.report; version=1.1';
const HARBOR_REPORT = 'application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const SBOM_REPORT = 'application/vnd.security.sbom.report+json; version=1.0';

interface Report {
  artifact: { repository: string; digest: string; tag?: string };
  scanner: { name: string; version: string };
  severity: string;
  vulnerabilities: Array<{ id: string; package: string; version: string; fix_version?: string; severity: string; links: string[]; vendor_attributes: { advisory: string; ecosystem: string } }>;
}

/**
 * Harbor's side of the pluggable scanner protocol, played against Palisade's adapter: a real
 * docker-registry behind a Docker token server stands in for Harbor's registry (Harbor's own is the
 * same Distribution code behind Harbor core's token service), and every answer is validated against
 * the spec's OpenAPI document (vendored, goharbor/pluggable-scanner-spec v1.2).
 */
describe.skipIf(!ready)('Harbor pluggable scanner adapter', () => {
  let t: TestApp;
  let dir: string;
  let tokens: TokenServer;
  let registry: LocalRegistry;
  let harborToken: string;
  let digest: string;
  const robot = { username: 'robot$palisade-scan', password: 'Sc4n-only-secret' };
  const basic = `Basic ${Buffer.from(`${robot.username}:${robot.password}`).toString('base64')}`;

  async function call(method: 'GET' | 'POST', url: string, options: { token?: string; body?: unknown; accept?: string } = {}) {
    const response = await t.app.inject({
      method,
      url,
      headers: {
        ...(options.token ? bearer(options.token) : {}),
        ...(options.accept ? { accept: options.accept } : {}),
        ...(options.body !== undefined ? { 'content-type': SCAN_REQUEST } : {}),
      },
      ...(options.body !== undefined ? { payload: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) } : {}),
    });
    return { status: response.statusCode, headers: response.headers, body: response.body };
  }

  function scanRequest(overrides: { url?: string; authorization?: string | null; repository?: string; digest?: string } = {}) {
    const body = {
      registry: { url: overrides.url ?? registry.url, ...(overrides.authorization === null ? {} : { authorization: overrides.authorization ?? basic }) },
      artifact: { repository: overrides.repository ?? 'demo/app', digest: overrides.digest ?? digest, tag: '1', mime_type: MANIFEST },
    };
    return body;
  }

  async function acceptScan(body: ReturnType<typeof scanRequest>, token = harborToken): Promise<string> {
    spec.checkRequest('/scan', 'post', SCAN_REQUEST, body);
    const response = await call('POST', '/harbor/api/v1/scan', { token, body });
    const accepted = spec.checkResponse('/scan', 'post', response) as { id: string };
    expect(response.status).toBe(202);
    return accepted.id;
  }

  /** Polls as Harbor does, checking every answer (302 with Refresh-After, then 200 or 500) against the spec. */
  async function pollReport(id: string, accept = SECURITY_REPORT) {
    const deadline = Date.now() + 120_000;
    let pending = 0;
    for (;;) {
      const response = await call('GET', `/harbor/api/v1/scan/${id}/report`, { token: harborToken, accept });
      spec.checkResponse('/scan/{scan_request_id}/report', 'get', response);
      if (response.status !== 302) return { response, pending };
      pending++;
      expect(Number(response.headers['refresh-after'])).toBeGreaterThan(0);
      if (Date.now() > deadline) throw new Error('the scan did not finish');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-harbor-'));
    tokens = await startTokenServer(dir, { [robot.username]: robot.password });
    registry = await startRegistry({ tokenAuth: { server: tokens, credentials: robot } });
    await registry.push(`oci:${fixture('images', 'debian12')}:app`, 'demo/app:1');
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--creds', `${robot.username}:${robot.password}`, `docker://${registry.host}/demo/app:1`]);
    digest = (JSON.parse(stdout) as { Digest: string }).Digest;
    t = await createTestApp();
    await importOsv(t.store, [fixture('osv', 'debian'), fixture('osv', 'npm')]);
    const connected = await t.app.inject({ method: 'POST', url: '/api/v1/registries', headers: bearer(t.adminToken), payload: { name: 'harbor', url: registry.url, kind: 'harbor' } });
    expect(connected.statusCode).toBe(201);
    harborToken = connected.json().token;
  }, 180_000);

  afterAll(async () => {
    await t?.close();
    await registry?.stop();
    await tokens?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('describes itself in metadata: vulnerability capability, both report types, the database update time', async () => {
    const response = await call('GET', '/harbor/api/v1/metadata', { token: harborToken, accept: 'application/vnd.scanner.adapter.metadata+json; version=1.1' });
    const metadata = spec.checkResponse('/metadata', 'get', response) as { scanner: { name: string }; capabilities: Array<{ type: string; consumes_mime_types: string[]; produces_mime_types: string[] }>; properties: Record<string, string> };
    expect(response.headers['content-type']).toBe('application/vnd.scanner.adapter.metadata+json; version=1.1');
    expect(metadata.scanner.name).toBe('Palisade');
    const consumes = [MANIFEST, 'application/vnd.docker.distribution.manifest.v2+json'];
    expect(metadata.capabilities).toEqual([
      { type: 'vulnerability', consumes_mime_types: consumes, produces_mime_types: [SECURITY_REPORT, HARBOR_REPORT] },
      { type: 'sbom', consumes_mime_types: consumes, produces_mime_types: [SBOM_REPORT], additional_attributes: { sbom_media_types: ['application/vnd.cyclonedx+json', 'application/spdx+json'] } },
    ]);
    const updated = Date.parse(metadata.properties['harbor.scanner-adapter/vulnerability-database-updated-at']!);
    expect(Date.now() - updated).toBeLessThan(10 * 60_000);
    // A Harbor that speaks only spec 1.0 gets 1.0.
    const old = await call('GET', '/harbor/api/v1/metadata', { token: harborToken, accept: 'application/vnd.scanner.adapter.metadata+json; version=1.0' });
    const oldMetadata = spec.checkResponse('/metadata', 'get', old) as typeof metadata;
    expect(old.headers['content-type']).toBe('application/vnd.scanner.adapter.metadata+json; version=1.0');
    expect(oldMetadata.capabilities.map((c) => c.type)).toEqual(['vulnerability']); // 1.0 has no capability types
  });

  it('scans with the robot credentials Harbor passes: 202, 302 + Refresh-After while running, then the expected findings in both report types', async () => {
    const id = await acceptScan(scanRequest());
    const { response, pending } = await pollReport(id);
    expect(response.status).toBe(200);
    expect(pending).toBeGreaterThan(0); // pulling and reading a 100 MB image takes longer than the first poll
    expect(response.headers['content-type']).toBe(SECURITY_REPORT);
    const report = JSON.parse(response.body) as Report;
    expect(report.artifact).toEqual({ repository: 'demo/app', digest, tag: '1', mime_type: MANIFEST });
    expect(report.scanner.name).toBe('Palisade');
    // Exactly the Debian findings the fixture lists, under their CVE ids (Harbor's allowlists use CVE ids).
    const expected = JSON.parse(readFileSync(fixture('osv', 'debian', 'EXPECTED-debian12-app.json'), 'utf8')) as Array<{ package: string; installed: string; fixed: string; id: string; cve: string }>;
    const debian = report.vulnerabilities.filter((v) => v.vendor_attributes.ecosystem.startsWith('Debian'));
    expect(debian.map((v) => `${v.package} ${v.version} ${v.id} ${v.fix_version} ${v.vendor_attributes.advisory}`).sort())
      .toEqual(expected.map((e) => `${e.package} ${e.installed} ${e.cve} ${e.fixed} ${e.id}`).sort());
    const lodash = report.vulnerabilities.find((v) => v.package === 'lodash' && v.vendor_attributes.advisory === 'GHSA-35jh-r3h4-6jhm');
    expect(lodash?.links).toEqual(['https://osv.dev/vulnerability/GHSA-35jh-r3h4-6jhm']);
    const order = ['Unknown', 'Negligible', 'Low', 'Medium', 'High', 'Critical'];
    expect(report.severity).toBe(order[Math.max(...report.vulnerabilities.map((v) => order.indexOf(v.severity)))]);

    const older = await call('GET', `/harbor/api/v1/scan/${id}/report`, { token: harborToken, accept: HARBOR_REPORT });
    expect(spec.checkResponse('/scan/{scan_request_id}/report', 'get', older)).toEqual(report);
    expect(older.headers['content-type']).toBe(HARBOR_REPORT);
    // The same scan's SBOM (spec 1.2): CycloneDX, with the image's packages.
    const sbom = await call('GET', `/harbor/api/v1/scan/${id}/report?sbom_media_type=${encodeURIComponent('application/vnd.cyclonedx+json')}`, { token: harborToken, accept: SBOM_REPORT });
    const sbomReport = spec.checkResponse('/scan/{scan_request_id}/report', 'get', sbom) as { media_type: string; artifact: unknown; sbom: { bomFormat: string; specVersion: string; components: Array<{ name: string; version: string; purl?: string }>; vulnerabilities: unknown[] } };
    expect(sbom.headers['content-type']).toBe(SBOM_REPORT);
    expect(sbomReport.media_type).toBe('application/vnd.cyclonedx+json');
    expect(sbomReport.artifact).toEqual(report.artifact);
    expect(sbomReport.sbom).toMatchObject({ bomFormat: 'CycloneDX', specVersion: '1.6' });
    const libssl = expected.find((e) => e.package === 'libssl3')!;
    expect(sbomReport.sbom.components).toContainEqual(expect.objectContaining({ name: 'libssl3', version: libssl.installed }));
    expect(sbomReport.sbom.vulnerabilities.length).toBe(report.vulnerabilities.length);
    // And as SPDX 2.3 JSON, valid against the SPDX schema, naming the same packages with their purls.
    const spdx = await call('GET', `/harbor/api/v1/scan/${id}/report?sbom_media_type=${encodeURIComponent('application/spdx+json')}`, { token: harborToken, accept: SBOM_REPORT });
    const spdxReport = spec.checkResponse('/scan/{scan_request_id}/report', 'get', spdx) as { media_type: string; artifact: unknown; sbom: { spdxVersion: string; packages: Array<{ SPDXID: string; name: string; versionInfo?: string; externalRefs?: Array<{ referenceType: string; referenceLocator: string }> }>; relationships: Array<{ spdxElementId: string; relationshipType: string; relatedSpdxElement: string }>; documentDescribes: string[] } };
    expect(spdx.status).toBe(200);
    expect(spdx.headers['content-type']).toBe(SBOM_REPORT);
    expect(spdxReport.media_type).toBe('application/spdx+json');
    expect(spdxReport.artifact).toEqual(report.artifact);
    expect(spdxValidator()(spdxReport.sbom)).toEqual([]);
    expect(spdxReport.sbom.spdxVersion).toBe('SPDX-2.3');
    const [image, ...contained] = spdxReport.sbom.packages;
    expect(image).toMatchObject({ SPDXID: spdxReport.sbom.documentDescribes[0], name: 'demo/app', versionInfo: digest });
    expect(contained.map((p) => p.externalRefs?.[0]?.referenceLocator).sort()).toEqual(sbomReport.sbom.components.map((c) => c.purl).sort());
    const ssl = contained.find((p) => p.name === 'libssl3')!;
    expect(ssl.versionInfo).toBe(libssl.installed);
    expect(spdxReport.sbom.relationships).toContainEqual({ spdxElementId: image!.SPDXID, relationshipType: 'CONTAINS', relatedSpdxElement: ssl.SPDXID });
    expect(new Set(contained.map((p) => p.SPDXID)).size).toBe(contained.length);
    // Metered as an image scan of that registry.
    const usage = await t.store.db.selectFrom('usage').select(['meter', 'scope', 'quantity']).where('source_key', '=', `harbor-scan:${id}`).execute();
    expect(usage).toEqual([{ meter: 'image_scans', scope: 'registry:harbor', quantity: 1 }]);
  }, 180_000);

  it('pulls with a Bearer token Harbor passes (layers now come from the analysis cache)', async () => {
    const url = new URL(tokens.realm);
    url.searchParams.set('service', tokens.service);
    url.searchParams.set('scope', 'repository:demo/app:pull');
    const { token } = await (await fetch(url, { headers: { authorization: basic } })).json() as { token: string };
    const id = await acceptScan(scanRequest({ authorization: `Bearer ${token}` }));
    const { response } = await pollReport(id);
    expect(response.status).toBe(200);
    expect((JSON.parse(response.body) as Report).vulnerabilities.length).toBeGreaterThan(40);
  }, 120_000);

  it('ends a scan whose pull is refused with 500 and the reason, as the spec asks', async () => {
    const id = await acceptScan(scanRequest({ authorization: `Basic ${Buffer.from(`${robot.username}:wrong`).toString('base64')}` }));
    const { response } = await pollReport(id);
    expect(response.status).toBe(500);
    expect(JSON.parse(response.body).error.message).toMatch(/demo\/app.*(access denied|HTTP 401)/);
  }, 60_000);

  it('never contacts a registry URL that is not a connected Harbor (SSRF), and says which field', async () => {
    const hits: string[] = [];
    const bait: Server = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.writeHead(200).end('{}');
    });
    await new Promise<void>((resolve) => bait.listen(0, '127.0.0.1', resolve));
    try {
      const baitUrl = `http://127.0.0.1:${(bait.address() as { port: number }).port}`;
      const body = scanRequest({ url: baitUrl });
      spec.checkRequest('/scan', 'post', SCAN_REQUEST, body);
      const response = await call('POST', '/harbor/api/v1/scan', { token: harborToken, body });
      expect(response.status).toBe(403);
      expect(JSON.parse(response.body)).toMatchObject({ code: 'harbor.scan.registry_not_allowed', error: { message: expect.stringContaining('registry.url') } });
      // With an admin token: the origin is not connected with kind harbor at all.
      const admin = await call('POST', '/harbor/api/v1/scan', { token: t.adminToken, body });
      spec.checkResponse('/scan', 'post', admin);
      expect(admin.status).toBe(422);
      expect(JSON.parse(admin.body).error.message).toMatch(/registry\.url .* is not a registry connected to Palisade with kind harbor/);
      // The same origin connected with another kind does not count either.
      await t.app.inject({ method: 'POST', url: '/api/v1/registries', headers: bearer(t.adminToken), payload: { name: 'bait', url: baitUrl, kind: 'distribution' } });
      expect((await call('POST', '/harbor/api/v1/scan', { token: t.adminToken, body })).status).toBe(422);
      expect(hits).toEqual([]);
    } finally {
      await new Promise((r) => bait.close(r));
    }
  });

  it('refuses bad fields with 400/422 naming them, in the spec\'s error shape', async () => {
    const cases: Array<[unknown, number, RegExp]> = [
      [scanRequest({ repository: '../../v2/_catalog' }), 422, /artifact\.repository/],
      [scanRequest({ digest: 'sha256:abc' }), 422, /artifact\.digest/],
      [scanRequest({ authorization: 'Token abc' }), 422, /registry\.authorization/],
      [scanRequest({ url: 'file:///etc/passwd' }), 422, /registry\.url/],
      [{ ...scanRequest(), artifact: { ...scanRequest().artifact, mime_type: 'application/vnd.cncf.helm.config.v1+json' } }, 422, /artifact\.mime_type/],
      [{ registry: { url: 'http://127.0.0.1:1' } }, 400, /artifact/],
      [{ ...scanRequest(), artifact: { ...scanRequest().artifact, digest: 42 } }, 400, /digest/],
      ['{"registry":', 400, /JSON|json/i],
    ];
    for (const [body, status, field] of cases) {
      const response = await call('POST', '/harbor/api/v1/scan', { token: harborToken, body });
      expect(response.status, JSON.stringify(body)).toBe(status);
      const parsed = spec.checkResponse('/scan', 'post', response) as { error: { message: string } };
      expect(parsed.error.message).toMatch(field);
    }
    expect(await t.store.db.selectFrom('harbor_scan_requests' as never).select('id' as never).where('repository' as never, '=', '../../v2/_catalog' as never).execute()).toEqual([]);
  });

  it('scans nothing while the registries plan is off for that Harbor, and says so (422)', async () => {
    const off = await t.app.inject({ method: 'PUT', url: '/api/v1/plans/registry:harbor', headers: bearer(t.adminToken), payload: { enabled: false } });
    expect(off.statusCode, off.body).toBe(200);
    try {
      const response = await call('POST', '/harbor/api/v1/scan', { token: harborToken, body: scanRequest() });
      const parsed = spec.checkResponse('/scan', 'post', response) as { error: { message: string } };
      expect(response.status).toBe(422);
      expect(parsed.error.message).toMatch(/registries plan is off for harbor/);
    } finally {
      await t.app.inject({ method: 'PUT', url: '/api/v1/plans/registry:harbor', headers: bearer(t.adminToken), payload: { enabled: true } });
    }
  });

  it('answers report polls for unknown ids with 404 and unsupported report types with 400', async () => {
    const unknown = await call('GET', '/harbor/api/v1/scan/hsc_nothing/report', { token: harborToken, accept: SECURITY_REPORT });
    spec.checkResponse('/scan/{scan_request_id}/report', 'get', unknown);
    expect(unknown.status).toBe(404);
    const id = await acceptScan(scanRequest());
    const raw = await call('GET', `/harbor/api/v1/scan/${id}/report`, { token: harborToken, accept: 'application/vnd.scanner.adapter.vuln.report.raw' });
    spec.checkResponse('/scan/{scan_request_id}/report', 'get', raw);
    expect(raw.status).toBe(400);
    const sbom = await call('GET', `/harbor/api/v1/scan/${id}/report?sbom_media_type=application/vnd.syft%2Bjson`, { token: harborToken, accept: 'application/vnd.security.sbom.report+json; version=1.0' });
    spec.checkResponse('/scan/{scan_request_id}/report', 'get', sbom);
    expect(sbom.status).toBe(400);
    expect(JSON.parse(sbom.body).error.message).toMatch(/application\/vnd\.cyclonedx\+json and application\/spdx\+json/);
    await pollReport(id); // let it finish before the app closes
  }, 120_000);

  it('is authenticated: no token 401, another kind\'s registry token 403, another Harbor\'s scans invisible', async () => {
    expect((await call('GET', '/harbor/api/v1/metadata')).status).toBe(401);
    const other = await t.app.inject({ method: 'POST', url: '/api/v1/registries', headers: bearer(t.adminToken), payload: { name: 'plain', url: 'http://127.0.0.1:9', kind: 'distribution' } });
    const forbidden = await call('GET', '/harbor/api/v1/metadata', { token: other.json().token });
    expect(forbidden.status).toBe(403);
    expect(JSON.parse(forbidden.body).error.message).toMatch(/plain is connected with kind distribution/);
    const second = await t.app.inject({ method: 'POST', url: '/api/v1/registries', headers: bearer(t.adminToken), payload: { name: 'harbor-two', url: 'http://127.0.0.1:8', kind: 'harbor' } });
    const id = await acceptScan(scanRequest());
    expect((await call('GET', `/harbor/api/v1/scan/${id}/report`, { token: second.json().token })).status).toBe(404);
    // ... and cannot scan through the first Harbor's address.
    expect((await call('POST', '/harbor/api/v1/scan', { token: second.json().token, body: scanRequest() })).status).toBe(403);
    await pollReport(id);
  }, 120_000);
});
