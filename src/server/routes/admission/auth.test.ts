import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../../test/support/app.js';
import { listAdmissionDecisions } from '../../../policy/index.js';
import { createToken } from '../../../store/index.js';
import { admissionReview, pod } from '../../../../test/support/admission.js';

const review = (uid: string) => admissionReview(pod('p', 'r.example.com/c:1', { privileged: true }), { uid });

describe.each(['optional', 'required'] as const)('admission webhook authentication (admissionAuth: %s)', (mode) => {
  let t: TestApp;
  let prodToken: string;
  beforeAll(async () => {
    t = await createTestApp({ config: { admissionAuth: mode } });
    prodToken = (await createToken(t.store.db, 'cluster:prod')).secret;
  });
  afterAll(async () => t?.close());

  const post = (url: string, uid: string, token?: string) => t.app.inject({
    method: 'POST', url, payload: review(uid), headers: token ? { authorization: `Bearer ${token}` } : {},
  });

  it(mode === 'optional' ? 'answers an API server that sends no token' : 'refuses an API server that sends no token', async () => {
    const res = await post('/admission/validate/prod', `anon-${mode}`);
    expect(res.statusCode).toBe(mode === 'optional' ? 200 : 401);
  });

  it('refuses a wrong token, and a cluster token used for another cluster', async () => {
    expect((await post('/admission/validate/prod', 'bad', 'pal_not-a-real-token')).statusCode).toBe(401);
    const other = await post('/admission/validate/staging', 'other', prodToken);
    expect(other.statusCode).toBe(403);
    expect(other.json().message).toMatch(/token for cluster prod cannot submit reviews for cluster staging/);
  });

  it('records a tokened review under the token\'s cluster', async () => {
    const res = await post('/admission/validate', `tokened-${mode}`, prodToken);
    expect(res.statusCode).toBe(200);
    expect(res.json().response.allowed).toBe(false);
    await expect.poll(async () => (await listAdmissionDecisions(t.store.db, { cluster: 'prod' })).map((d) => d.uid)).toContain(`tokened-${mode}`);
  });
});
