import { createServer, type Server, type Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordImageScan, replaceImageFindings } from '../../../center/index.js';
import { loadConfig, systemClock, type Finding } from '../../../core/index.js';
import { BUILTIN_POLICIES, compilePolicySet, type PolicySet } from '../../../policy/index.js';
import { insertRegistry } from '../../../store/index.js';
import { addVexDocument, parseVexDocument } from '../../../vex/index.js';
import type { ServerContext } from '../../context.js';
import { installErrorHandling } from '../../errors.js';
import { summarizeFindings } from './image-gate.js';
import { admissionRoutes } from './validate.js';
import { createTestStore, type TestStore } from '../../../../test/support/store.js';
import { admissionReview, pod } from '../../../../test/support/admission.js';

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const finding = (id: string, severity: Finding['severity'], extra: Partial<Finding> & Record<string, unknown> = {}): Finding => ({
  id, aliases: [], title: id, package: { name: 'minimist', version: '1.2.5', ecosystem: 'npm', purl: `pkg:npm/minimist@1.2.5#${id}` },
  installedVersion: '1.2.5', fixedVersion: '1.2.6', severity, severitySource: 'GHSA', status: 'fixed', remediation: 'upgrade', advisoryIds: [id], ...extra,
});

describe('the admission route with image-vulnerabilities on', () => {
  let temp: TestStore;
  let slow: Server;
  const sockets: Socket[] = [];
  let slowPort: number;
  const apps: FastifyInstance[] = [];

  async function appWith(parameters: Record<string, unknown>, deadlineMs = 300): Promise<FastifyInstance> {
    const context: ServerContext = { config: loadConfig({ env: {}, cwd: temp.dir }), store: temp.store, jobs: undefined, clock: systemClock };
    const policies: PolicySet = compilePolicySet(BUILTIN_POLICIES, { policies: { 'image-vulnerabilities': { effect: 'deny', parameters } } });
    const app = Fastify();
    installErrorHandling(app);
    await app.register(admissionRoutes, { context, policies, record: false, imageGate: { deadlineMs } });
    apps.push(app);
    return app;
  }
  const send = async (app: FastifyInstance, object: unknown) => app.inject({ method: 'POST', url: '/admission/validate', payload: admissionReview(object) });

  beforeAll(async () => {
    temp = await createTestStore({ name: 'image-gate' });
    // A connected registry that accepts connections and never answers.
    slow = createServer((socket) => { sockets.push(socket); });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    slowPort = (slow.address() as { port: number }).port;
    const at = new Date();
    await insertRegistry(temp.store.db, { name: 'slow', url: `http://127.0.0.1:${slowPort}`, kind: 'distribution', credentials: null, at });
    // An OpenVEX statement that the critical finding does not affect image b (and says nothing of a).
    const raw = {
      '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://example.com/vex/gate-1', author: 'sec@example.com', timestamp: '2026-11-01T00:00:00Z', version: 1,
      statements: [{ vulnerability: { name: 'GHSA-xvch-5gv4-984h' }, products: [{ '@id': digest('b') }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' }],
    };
    await addVexDocument(temp.store.db, parseVexDocument(raw, { strict: true }), raw, 'test', at);
    await temp.store.db.transaction().execute(async (tx) => {
      for (const [d, findings] of [
        [digest('a'), [finding('GHSA-xvch-5gv4-984h', 'critical')]],
        [digest('b'), [finding('GHSA-xvch-5gv4-984h', 'critical'), finding('GHSA-35jh-r3h4-6jhm', 'high')]],
      ] as const) {
        await recordImageScan(tx, { digest: d, startedAt: at, finishedAt: at });
        await replaceImageFindings(tx, d, [...findings]);
      }
    });
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    for (const s of sockets) s.destroy();
    slow?.close();
    await temp?.close();
  });

  it('leaves out VEX-suppressed findings: not_affected critical does not deny, the same finding without a statement does', async () => {
    const app = await appWith({});
    expect((await send(app, pod('p', `r.example/app@${digest('b')}`))).json().response.allowed).toBe(true);
    const denied = (await send(app, pod('p', `r.example/app@${digest('a')}`))).json().response;
    expect(denied.allowed).toBe(false);
    expect(denied.status.message).toContain('GHSA-xvch-5gv4-984h (critical) in minimist 1.2.5 → 1.2.6');
    const summary = summarizeFindings(digest('c'), [finding('X', 'critical', { vex: { status: 'fixed' } }), finding('Y', 'high', { vex: { status: 'under_investigation' } })]);
    expect(summary.counts).toEqual({ high: { fixable: 1, unfixable: 0 } });
  });

  it('when the registry does not answer within the deadline: admitted with a warning, or denied saying so under requireScan; always before the deadline runs out', async () => {
    const image = `127.0.0.1:${slowPort}/team/app:1`;
    const open = await appWith({}, 300);
    let t = performance.now();
    const admitted = await send(open, pod('p', image));
    expect(performance.now() - t).toBeLessThan(2000);
    expect(admitted.statusCode).toBe(200);
    expect(admitted.json().response.allowed).toBe(true);
    expect(admitted.json().response.warnings).toContain(`[image-vulnerabilities] image "${image}" was not checked for vulnerabilities: Palisade could not check it within the admission deadline (300 ms)`);

    const strict = await appWith({ requireScan: true }, 300);
    t = performance.now();
    const denied = (await send(strict, pod('p', image))).json().response;
    expect(performance.now() - t).toBeLessThan(2000);
    expect(denied.allowed).toBe(false);
    expect(denied.status.message).toContain(`image "${image}" has no Palisade vulnerability scan: Palisade could not check it within the admission deadline (300 ms)`);
  });

  it('answers hostile and malformed objects with 200 or 400, never 5xx', async () => {
    const app = await appWith({ requireScan: true, severity: 'low' });
    const objects: unknown[] = [
      { kind: 'Pod', spec: { containers: [{ name: 'c', image: 123 }] } },
      { kind: 'Pod', metadata: 'x', spec: { containers: 'nope' } },
      { kind: 'Pod', metadata: { namespace: 7, ownerReferences: [{ controller: true, kind: 5, name: null }, null] }, spec: { containers: [null, { image: 'a'.repeat(100_000) }] } },
      { kind: 'Pod', spec: { containers: [{ name: 'c', image: `x/y@sha256:${'0'.repeat(64)}` }, { name: 'd', image: 'UPPER/Case:1' }, { name: 'e', image: '' }] } },
      { kind: 'Deployment', spec: { template: { spec: { initContainers: Array.from({ length: 80 }, (_, i) => ({ name: `i${i}`, image: `r.example/i${i}:1` })) } } } },
      { kind: 'Deployment', spec: { template: { spec: { containers: Array.from({ length: 65 }, (_, i) => ({ name: `c${i}`, image: `r.example/c${i}@${digest('b')}` })) } } } },
      { kind: 'CronJob', spec: { jobTemplate: null } },
      'a string',
    ];
    for (const object of objects) {
      const res = await send(app, object);
      expect(res.statusCode, JSON.stringify(object).slice(0, 80)).toBe(200);
    }
    const bad = await app.inject({ method: 'POST', url: '/admission/validate', payload: { kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request: { uid: 'u', operation: 'PATCH' } } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('admission.invalid_review');
    // Beyond 64 distinct images nothing more is looked up: the 65th is judged unchecked (denied under requireScan).
    const many = (await send(await appWith({ requireScan: true }), objects[5])).json().response;
    expect(many.allowed).toBe(false);
    expect(many.status.message).toMatch(/^palisade denied Deployment shop\/: \[image-vulnerabilities\] container "c64" image "r\.example\/c64@sha256:b{64}" has no Palisade vulnerability scan: the object names more than 64 distinct images$/);
  });
});
