import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/index.js';
import { runServer, type RunningProcess } from '../../src/server/index.js';
import { admissionReview, pod } from '../support/admission.js';
import { startProcess } from '../support/cli.js';

/** A real AdmissionReview (the shape of the Kubernetes documentation's example) for a privileged pod. */
function review(privileged: boolean) {
  return admissionReview(pod('web', 'nginx:1.25', { privileged }), {
    uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
    requestKind: { group: '', version: 'v1', kind: 'Pod' },
    requestResource: { group: '', version: 'v1', resource: 'pods' },
    name: 'web',
    userInfo: { username: 'admin', uid: '014fbff9a07c', groups: ['system:authenticated'] },
    oldObject: null,
    options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
  });
}

function post(url: string, ca: string, body: unknown): Promise<{ status: number; json: { response: { allowed: boolean; uid: string; status?: { message: string } } } }> {
  return new Promise((resolve, reject) => {
    const request = https.request(`${url}/admission/validate`, { method: 'POST', ca, headers: { 'content-type': 'application/json' } }, (response) => {
      let data = '';
      response.on('data', (d: Buffer) => (data += d));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, json: JSON.parse(data) }));
    });
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

describe('admission webhook on its own HTTPS listener', () => {
  let dir: string;
  let server: RunningProcess;
  let ca: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-admission-'));
    const printed: string[] = [];
    server = await runServer(loadConfig({ env: {}, cwd: dir, flags: { dataDir: dir, port: 0, admissionPort: 0, logLevel: 'warn' } }), { print: (l) => printed.push(l) });
    const line = printed.find((l) => l.includes('caBundle'))!;
    ca = Buffer.from(/: (\S+)$/.exec(line)![1]!, 'base64').toString('utf8');
  });
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves AdmissionReview over TLS verified against the printed caBundle, denying a privileged pod', async () => {
    expect(ca).toMatch(/BEGIN CERTIFICATE/);
    const denied = await post(server.admissionUrl!.replace('127.0.0.1', 'localhost'), ca, review(true));
    expect(denied.status).toBe(200);
    expect(denied.json.response).toMatchObject({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: false });
    expect(denied.json.response.status!.message).toMatch(/privileged/i);
    const allowed = await post(server.admissionUrl!, ca, review(false));
    expect(allowed.json.response.allowed).toBe(true);
  });

  it('keeps its certificate across restarts, so the caBundle stays valid', async () => {
    await server.stop();
    const printed: string[] = [];
    server = await runServer(loadConfig({ env: {}, cwd: dir, flags: { dataDir: dir, port: 0, admissionPort: 0, logLevel: 'warn' } }), { print: (l) => printed.push(l) });
    expect(printed.some((l) => l.includes('caBundle'))).toBe(false);
    expect((await post(server.admissionUrl!, ca, review(false))).json.response.allowed).toBe(true);
  });
});

describe('admission webhook of the built CLI', () => {
  // The bundle users run makes the certificate with selfsigned, loaded on first use: this fails if
  // the bundle loses that module's exports (a CommonJS module behind import()).
  it('generates its certificate and answers over TLS, denying a privileged pod', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-admission-cli-'));
    const server = await startProcess(['server', '--port', '0'], { cwd: dir, env: { PALISADE_ADMISSION_PORT: '0' }, readyPattern: /admission webhook listening[\s\S]*palisade server ready|palisade server ready[\s\S]*admission webhook listening/, timeoutMs: 120_000 });
    try {
      const ca = Buffer.from(/caBundle[^:]*: (\S+)/.exec(server.output())![1]!, 'base64').toString('utf8');
      const url = /"url":"(https:[^"]+)","msg":"admission webhook listening"/.exec(server.output())![1]!;
      const denied = await post(url.replace('127.0.0.1', 'localhost'), ca, review(true));
      expect(denied.json.response).toMatchObject({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: false });
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
