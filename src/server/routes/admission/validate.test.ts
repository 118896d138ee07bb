import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, ManualClock } from '../../../core/index.js';
import { listAdmissionDecisions } from '../../../policy/index.js';
import { type Store } from '../../../store/index.js';
import type { ServerContext } from '../../context.js';
import { installErrorHandling } from '../../errors.js';
import { admissionRoutes } from './validate.js';
import { createTestStore, type TestStore } from '../../../../test/support/store.js';
import { admissionReview } from '../../../../test/support/admission.js';

const pod = (privileged: boolean) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'shop' },
  spec: { containers: [{ name: 'c', image: 'registry.example.com/c:1', securityContext: { privileged } }] },
});

describe('POST /admission/validate', () => {
  let dir: string;
  let temp: TestStore;
  let store: Store;
  let app: FastifyInstance;

  beforeAll(async () => {
    temp = await createTestStore({ name: 'admission' });
    store = temp.store;
    dir = temp.dir;
    const context: ServerContext = { config: loadConfig({ env: {}, cwd: dir }), store, jobs: undefined, clock: new ManualClock('2026-03-01T00:00:00Z') };
    app = Fastify();
    installErrorHandling(app);
    await app.register(admissionRoutes, { context });
  });
  afterAll(async () => {
    await app?.close();
    await temp?.close();
  });

  it('answers an AdmissionReview, records it, and does not record dry runs', async () => {
    const denied = await app.inject({ method: 'POST', url: '/admission/validate/prod', payload: admissionReview(pod(true)) });
    expect(denied.statusCode).toBe(200);
    const body = denied.json();
    expect(body).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'e911857d-c318-11e8-bbad-025000000001', allowed: false, status: { code: 403 } } });

    const dry = await app.inject({ method: 'POST', url: '/admission/validate/prod', payload: admissionReview(pod(true), { uid: 'dry-1', dryRun: true }) });
    expect(dry.json().response.allowed).toBe(false);

    await new Promise((r) => setTimeout(r, 200));
    const decisions = await listAdmissionDecisions(store.db, { cluster: 'prod' });
    expect(decisions.map((d) => d.uid)).toEqual(['e911857d-c318-11e8-bbad-025000000001']);
    expect(decisions[0]).toMatchObject({ allowed: false, kind: 'Pod', namespace: 'shop', username: 'alice', operation: 'CREATE' });
    expect(decisions[0]!.results.some((r) => r.policy === 'no-privileged-containers')).toBe(true);
  });

  it('accepts an UPDATE review of large objects (beyond the default 1 MiB body limit)', async () => {
    const big = pod(false);
    (big.metadata as Record<string, unknown>).annotations = { blob: 'x'.repeat(1_400_000) };
    const res = await app.inject({ method: 'POST', url: '/admission/validate', payload: admissionReview(big, { uid: 'big-1', operation: 'UPDATE', oldObject: big }) });
    expect(res.statusCode).toBe(200);
    expect(res.json().response.allowed).toBe(true);
  });

  it('answers 400 with a code for something that is not an AdmissionReview', async () => {
    const res = await app.inject({ method: 'POST', url: '/admission/validate', payload: { kind: 'Pod' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('admission.invalid_review');
  });
});
