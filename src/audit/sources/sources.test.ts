import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../../test/support/fixtures.js';
import { AuditBatch, decodeAuditText, decodeAuditValue } from './decode.js';
import { readAuditFile } from './file.js';
import { decodeWebhookBody } from './webhook.js';

const k8s = (name: string) => fixture('audit', 'elastic-integrations', 'kubernetes', name);

describe.skipIf(!fixturesAvailable())('audit sources over the real samples', () => {
  it('reads plain, GKE and AKS (object log) lines of one file into Events', async () => {
    const batch = new AuditBatch();
    await readAuditFile(k8s('test-audit.log'), batch);
    expect(batch.errors).toEqual([]);
    expect(batch.events).toHaveLength(5);
    const [plain, , , gke, aks] = batch.events;
    expect(plain!.objectRef).toMatchObject({ resource: 'pods', namespace: 'default', name: 'my-pod' });
    expect(gke).toMatchObject({ verb: 'get', requestURI: '/readyz', user: { username: 'system:gke-master-healthcheck' }, sourceIPs: ['67.43.156.1'], cluster: 'test-cluster', userAgent: 'gke-master-healthcheck', responseStatus: { code: 200 } });
    expect(gke!.annotations['authorization.k8s.io/decision']).toBe('allow');
    expect(aks).toMatchObject({ verb: 'update', user: { username: 'aksService' }, cluster: 'test-aks', objectRef: { resource: 'leases', namespace: 'kube-system' } });
  });

  it('parses the AKS kube-audit record whose log is a JSON string', async () => {
    const batch = new AuditBatch();
    await readAuditFile(k8s('test-kube-audit.log'), batch);
    expect(batch.errors).toEqual([]);
    expect(batch.events[0]).toMatchObject({ auditID: 'ad26f7bc-f1c6-4097-90f1-e0924e12f257', cluster: 'test-cluster', verb: 'update' });
  });

  it('maps a denied anonymous GKE probe to a 403 non-resource request', async () => {
    const batch = new AuditBatch();
    await readAuditFile(fixture('audit', 'elastic-integrations', 'gcp', 'test-k8s-nonmatching-resourcename.log'), batch);
    expect(batch.events[0]).toMatchObject({ user: { username: 'system:anonymous' }, requestURI: '/HNAP1', responseStatus: { code: 403 } });
    expect(batch.events[0]!.objectRef).toBeUndefined();
  });

  it('reads the v1beta1 audit2rbac log, gzipped and rotated too, with the same result', async () => {
    const source = fixture('audit', 'audit2rbac', 'demo.log');
    const plain = new AuditBatch();
    const lines = await readAuditFile(source, plain);
    expect(plain.errors).toEqual([]);
    expect(plain.events.length).toBe(lines);
    expect(plain.events.filter((e) => e.impersonatedUser).length).toBeGreaterThan(0);
    expect(plain.events.every((e) => e.apiVersion === 'audit.k8s.io/v1' && e.requestReceivedTimestamp)).toBe(true);
    const dir = mkdtempSync(path.join(tmpdir(), 'audit-'));
    const rotated = path.join(dir, 'audit-2017-09-11T19-55-00.000.log.gz');
    writeFileSync(rotated, gzipSync(readFileSync(source)));
    const gz = new AuditBatch();
    await readAuditFile(rotated, gz);
    expect(gz.events).toEqual(plain.events);
  });

  it('reports invalid JSON mid-file and wrong apiVersion with line numbers and keeps the valid events', () => {
    const lines = readFileSync(k8s('test-audit.log'), 'utf8').trim().split('\n');
    const broken = [lines[0], '{"kind":"Event", "verb": trunc', lines[1]!.replace('audit.k8s.io/v1', 'audit.k8s.io/v2'),
      JSON.stringify({ kind: 'Event', apiVersion: 'audit.k8s.io/v1', auditID: 'x', requestReceivedTimestamp: '2025-01-01T00:00:00Z', user: { username: 'u' } }), lines[2]].join('\n');
    const batch = new AuditBatch();
    decodeAuditText(broken, batch, { file: 'f.log' });
    expect(batch.events).toHaveLength(2);
    expect(batch.errors.map((e) => [e.line, e.code, e.field])).toEqual([
      [2, 'audit.invalid-json', undefined],
      [3, 'audit.api-version', 'apiVersion'],
      [4, 'audit.missing-field', 'verb'],
    ]);
    expect(batch.errors[0]!.file).toBe('f.log');
  });

  it('reports a broken first line of a JSON-lines file and reads the rest', () => {
    const lines = readFileSync(k8s('test-audit.log'), 'utf8').trim().split('\n');
    const batch = new AuditBatch();
    decodeAuditText(['{"kind":"Event","apiVer', ...lines.slice(0, 3)].join('\n'), batch);
    expect(batch.events).toHaveLength(3);
    expect(batch.errors).toMatchObject([{ line: 1, code: 'audit.invalid-json' }]);
  });

  it('reads a pretty-printed EventList document and a JSON array', () => {
    const events = readFileSync(k8s('test-audit.log'), 'utf8').trim().split('\n').slice(0, 3).map((l) => JSON.parse(l));
    const list = new AuditBatch();
    decodeAuditText(JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: events }, null, 2), list);
    expect(list.errors).toEqual([]);
    expect(list.events).toHaveLength(3);
    const array = new AuditBatch();
    decodeAuditText(JSON.stringify(events, null, 1), array);
    expect(array.events).toEqual(list.events);
  });

  it('reads every shape real logs come in: pretty-printed, concatenated, one object per file, EventList, without kind/apiVersion', () => {
    const lines = readFileSync(fixture('audit', 'audit2rbac', 'demo.log'), 'utf8').trim().split('\n').slice(0, 6);
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const expected = new AuditBatch();
    decodeAuditText(lines.join('\n'), expected);
    expect(expected.errors).toEqual([]);
    // v1beta1 with only the old timestamp fields (2017 log): requestReceivedTimestamp comes from `timestamp`.
    expect(events[0]).not.toHaveProperty('requestReceivedTimestamp');
    expect(expected.events[0]!.requestReceivedTimestamp).toBe(events[0]!.timestamp);
    const shapes: Record<string, string> = {
      pretty: events.map((e) => JSON.stringify(e, null, 2)).join('\n'),
      concatenated: events.map((e) => JSON.stringify(e)).join(''),
      concatenatedPretty: events.map((e) => JSON.stringify(e, null, 4)).join(''),
      eventList: JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1beta1', items: events.map(({ kind: _k, apiVersion: _a, ...rest }) => rest) }, null, 2),
      eventListNoVersion: JSON.stringify({ kind: 'EventList', items: events }),
      // As Falco's recorded trace files and some log shippers write them.
      noTypeFields: events.map(({ kind: _k, apiVersion: _a, ...rest }) => JSON.stringify(rest)).join('\n'),
    };
    for (const [name, text] of Object.entries(shapes)) {
      const batch = new AuditBatch();
      decodeAuditText(text, batch);
      expect(batch.errors, name).toEqual([]);
      expect(batch.events, name).toEqual(expected.events);
    }
    // One pretty-printed object per file.
    const dir = mkdtempSync(path.join(tmpdir(), 'shapes-'));
    const one = new AuditBatch();
    return Promise.all(events.map(async (e, i) => {
      const file = path.join(dir, `event-${i}.json`);
      writeFileSync(file, JSON.stringify(e, null, 2) + '\n');
      await readAuditFile(file, one);
    })).then(() => expect(one.events.map((e) => e.auditID).sort()).toEqual(expected.events.map((e) => e.auditID).sort()));
  });

  it('refuses only what is not an audit event, naming the field that shows it', () => {
    const event = JSON.parse(readFileSync(k8s('test-audit.log'), 'utf8').split('\n')[0]!) as Record<string, unknown>;
    const batch = new AuditBatch();
    decodeAuditText([
      // falcosecurity/falco 2583ea9b test/trace_files/k8s_audit/fal_01_003.json: a record of a foreign kind.
      '{"kind": 0}',
      JSON.stringify({ ...event, kind: 'Pod' }),
      JSON.stringify({ ...event, apiVersion: 'v1' }),
      JSON.stringify({ hello: 'world' }),
      JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1' }),
      JSON.stringify(event),
    ].join('\n'), batch);
    expect(batch.events).toHaveLength(1);
    expect(batch.errors.map((e) => [e.line, e.field])).toEqual([[1, 'kind'], [2, 'kind'], [3, 'apiVersion'], [4, 'auditID'], [5, 'items']]);
  });

  it('reports an unterminated pretty-printed document once, at its first line', () => {
    const batch = new AuditBatch();
    decodeAuditText('{\n  "kind": "EventList",\n  "items": [\n', batch, { file: 'cut.json' });
    expect(batch.errors).toEqual([expect.objectContaining({ line: 1, code: 'audit.invalid-json', file: 'cut.json' })]);
  });

  it('unwraps EKS CloudWatch exports: subscription, filter-log-events and S3 lines', () => {
    const event = readFileSync(k8s('test-audit.log'), 'utf8').split('\n')[0]!;
    const sub = { messageType: 'DATA_MESSAGE', owner: '1', logGroup: '/aws/eks/prod-eks/cluster', logStream: 'kube-apiserver-audit-abc', logEvents: [{ id: '1', timestamp: 1, message: event }] };
    const filter = { events: [{ logStreamName: 'kube-apiserver-audit-abc', timestamp: 1, message: event, eventId: '1' }] };
    const batch = new AuditBatch();
    decodeAuditText([JSON.stringify(sub), JSON.stringify(filter), `2025-03-04T06:22:18.822Z ${event}`,
      JSON.stringify({ messageType: 'CONTROL_MESSAGE', logEvents: [] })].join('\n'), batch);
    expect(batch.errors).toEqual([]);
    expect(batch.skipped).toBe(1);
    expect(batch.events.map((e) => e.cluster)).toEqual(['prod-eks', undefined, undefined]);
    expect(new Set(batch.events.map((e) => e.auditID))).toEqual(new Set(['abcde12345']));
  });

  it('skips AKS records of other categories and reports malformed ones by index', () => {
    const aks = JSON.parse(readFileSync(k8s('test-kube-audit.log'), 'utf8'));
    const batch = new AuditBatch();
    decodeAuditValue({ records: [{ category: 'kube-apiserver', properties: { log: 'I0101 started' } }, aks, { category: 'kube-audit', properties: { log: '{not json' } }] }, batch);
    expect(batch.events).toHaveLength(1);
    expect(batch.skipped).toBe(1);
    expect(batch.errors).toMatchObject([{ index: 2, code: 'audit.invalid-json' }]);
  });
});

describe('audit webhook bodies', () => {
  const ev = (i: number) => ({ kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: `id${i}`, stage: 'ResponseComplete', requestURI: '/api/v1/pods', verb: 'list', user: { username: 'u', groups: [] }, sourceIPs: ['10.0.0.1'], requestReceivedTimestamp: '2025-01-01T00:00:00Z', stageTimestamp: '2025-01-01T00:00:00Z' });
  it('accepts EventList, array and single Event and stamps the cluster', () => {
    expect(decodeWebhookBody({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [ev(1), ev(2)] }, 'c1').events.map((e) => e.cluster)).toEqual(['c1', 'c1']);
    expect(decodeWebhookBody([ev(1)], 'c1').events).toHaveLength(1);
    expect(decodeWebhookBody(JSON.stringify(ev(1)), 'c1').events).toHaveLength(1);
  });
  it('refuses more than 400 events, a 50 MB body and non-JSON with typed errors', () => {
    expect(() => decodeWebhookBody({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: Array.from({ length: 401 }, (_, i) => ev(i)) }, 'c')).toThrow(expect.objectContaining({ code: 'audit.batch-too-large', status: 413 }));
    expect(() => decodeWebhookBody('x'.repeat(50 * 1024 * 1024), 'c')).toThrow(expect.objectContaining({ code: 'audit.body-too-large', status: 413 }));
    expect(() => decodeWebhookBody('{"kind":', 'c')).toThrow(expect.objectContaining({ code: 'audit.invalid-json', status: 400 }));
  });
  it('keeps valid items of a batch with a bad one', () => {
    const batch = decodeWebhookBody({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [ev(1), { ...ev(2), user: undefined }, ev(3)] }, 'c');
    expect(batch.events.map((e) => e.auditID)).toEqual(['id1', 'id3']);
    expect(batch.errors).toMatchObject([{ index: 1, field: 'user' }]);
  });
});

describe('following an audit log', () => {
  it('delivers appended lines, holds a partial last line, and starts over when the file is rotated', async () => {
    const { followAuditFile } = await import('./file.js');
    const { appendFileSync } = await import('node:fs');
    const dir = mkdtempSync(path.join(tmpdir(), 'follow-'));
    const file = path.join(dir, 'audit.log');
    const line = (id: string) => JSON.stringify({ kind: 'Event', apiVersion: 'audit.k8s.io/v1', auditID: id, verb: 'get', user: { username: 'u' }, requestReceivedTimestamp: '2025-01-01T00:00:00Z' });
    writeFileSync(file, line('a') + '\n');
    const batch = new AuditBatch();
    const controller = new AbortController();
    const seen = (n: number) => new Promise<void>((resolve) => {
      const timer = setInterval(() => { if (batch.events.length >= n) { clearInterval(timer); resolve(); } }, 10);
    });
    const following = followAuditFile(file, batch, { intervalMs: 20, signal: controller.signal });
    await seen(1);
    const half = line('b');
    appendFileSync(file, half.slice(0, 20));
    await new Promise((r) => setTimeout(r, 80));
    expect(batch.events).toHaveLength(1);
    appendFileSync(file, half.slice(20) + '\n');
    await seen(2);
    writeFileSync(file, line('c') + '\n');
    await seen(3);
    // The apiserver's own rotation: rename, then a new file longer than what was read.
    const { renameSync } = await import('node:fs');
    renameSync(file, file + '.1');
    writeFileSync(file, [line('d'), line('e'), line('f'), line('g')].join('\n') + '\n');
    await seen(7);
    controller.abort();
    await following;
    expect(batch.events.map((e) => e.auditID)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(batch.errors).toEqual([]);
  });
});
