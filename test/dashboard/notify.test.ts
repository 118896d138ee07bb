import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DetectedThreat } from '../../src/center/alerts.js';
import { ThreatIntake } from '../../src/center/index.js';
import { createChannel, dispatchNotifications, MAX_ATTEMPTS, SIGNATURE_HEADER } from '../../src/center/notify.js';
import { ManualClock } from '../../src/core/index.js';
import { openStore } from '../../src/store/index.js';
import { bearer } from '../support/app.js';
import { createTestPostgres, postgresAvailable } from '../support/postgres.js';
import { createCenterApp } from './support.js';

interface Received { path: string; headers: IncomingMessage['headers']; body: string }

/** A real HTTP receiver on loopback; answers `status` (changeable) to every POST. */
async function startReceiver() {
  const received: Received[] = [];
  const state = { status: 200 };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(state.status).end(state.status === 200 ? 'ok' : 'receiver down');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, state, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A real SMTP server on loopback (smtp-server), keeping every message it accepts. */
async function startSmtp() {
  const mails: { from: string; to: string[]; data: string }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let data = '';
      stream.on('data', (d: Buffer) => (data += d));
      stream.on('end', () => {
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), data });
        callback();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as AddressInfo).port;
  return { port, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

let n = 0;
function threat(severity: DetectedThreat['severity']): DetectedThreat {
  n += 1;
  return {
    rule: 'privileged-container', title: `Privileged container ${n}`, severity, tactic: 'Privilege Escalation',
    resource: { kind: 'pod', id: `prod/ns/pod/p${n}`, name: `p${n}`, cluster: 'prod', namespace: 'ns' },
    evidence: [{ n }], remediation: 'Drop privileged', source: 'admission', at: new Date(),
  };
}

describe('notifications to real receivers', () => {
  let t: Awaited<ReturnType<typeof createCenterApp>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  const clock = new ManualClock(new Date('2026-03-02T08:00:00Z'));

  beforeAll(async () => {
    t = await createCenterApp({ clock });
    receiver = await startReceiver();
    smtp = await startSmtp();
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
    await smtp?.close();
  });
  beforeEach(async () => {
    receiver.received.length = 0;
    receiver.state.status = 200;
    smtp.mails.length = 0;
    await t.store.db.deleteFrom('notification_deliveries').execute();
    await t.store.db.deleteFrom('notification_channels').execute();
  });

  const dispatch = () => dispatchNotifications(t.store.db, { clock });

  it('signs the generic webhook body with HMAC-SHA256 and sends only alerts at or above the minimum severity', async () => {
    const secret = 'a-webhook-secret-0123456789';
    await createChannel(t.store.db, { name: 'siem', kind: 'webhook', settings: { url: `${receiver.url}/hook`, secret }, minSeverity: 'high' }, clock);
    await new ThreatIntake(t.store, { clock }).submit({ threats: [threat('critical'), threat('medium')] });
    expect(await dispatch()).toMatchObject({ sent: 1, failed: 0 });
    expect(receiver.received).toHaveLength(1);
    const [got] = receiver.received;
    const expected = `sha256=${createHmac('sha256', secret).update(got!.body).digest('hex')}`;
    expect(got!.headers[SIGNATURE_HEADER]).toBe(expected);
    expect(got!.headers[SIGNATURE_HEADER]).not.toBe(`sha256=${createHmac('sha256', 'another-secret-xxxxxxxx').update(got!.body).digest('hex')}`);
    const body = JSON.parse(got!.body) as { alerts: { severity: string }[] };
    expect(body.alerts.map((a) => a.severity)).toEqual(['critical']);
    // Sent once: a second dispatch finds nothing to do.
    expect(await dispatch()).toMatchObject({ sent: 0 });
    expect(receiver.received).toHaveLength(1);
  });

  it('posts Slack and Teams incoming-webhook shapes', async () => {
    await createChannel(t.store.db, { name: 'slack', kind: 'slack', settings: { url: `${receiver.url}/slack` }, minSeverity: 'low' }, clock);
    await createChannel(t.store.db, { name: 'teams', kind: 'teams', settings: { url: `${receiver.url}/teams` }, minSeverity: 'low' }, clock);
    await new ThreatIntake(t.store, { clock }).submit({ threats: [threat('high')] });
    await dispatch();
    const slack = receiver.received.find((r) => r.path === '/slack');
    const teams = receiver.received.find((r) => r.path === '/teams');
    expect(JSON.parse(slack!.body).text).toMatch(/HIGH\] Privileged container/);
    const card = JSON.parse(teams!.body).attachments[0];
    expect(card.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(JSON.stringify(card.content.body)).toMatch(/Privileged container/);
  });

  it('emails over SMTP', async () => {
    await createChannel(t.store.db, { name: 'oncall', kind: 'email', settings: { host: '127.0.0.1', port: smtp.port, from: 'palisade@example.test', to: 'oncall@example.test, sec@example.test' }, minSeverity: 'high' }, clock);
    await new ThreatIntake(t.store, { clock }).submit({ threats: [threat('critical')] });
    expect(await dispatch()).toMatchObject({ sent: 1 });
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0]!.to).toEqual(['oncall@example.test', 'sec@example.test']);
    expect(smtp.mails[0]!.data).toMatch(/Subject: Palisade critical alert: Privileged container/);
  });

  it('sends a digest as one message once the interval has passed', async () => {
    await createChannel(t.store.db, { name: 'daily', kind: 'webhook', settings: { url: `${receiver.url}/digest`, secret: 'digest-secret-0123456789' }, minSeverity: 'low', digestMinutes: 60 }, clock);
    await new ThreatIntake(t.store, { clock }).submit({ threats: [threat('high'), threat('low'), threat('critical')] });
    expect(await dispatch()).toMatchObject({ sent: 0 });
    clock.advance(30 * 60_000);
    expect(await dispatch()).toMatchObject({ sent: 0 });
    clock.advance(31 * 60_000);
    expect(await dispatch()).toMatchObject({ sent: 3 });
    expect(receiver.received).toHaveLength(1);
    expect(JSON.parse(receiver.received[0]!.body).alerts).toHaveLength(3);
  });

  it('retries a failing receiver with backoff, succeeds when it recovers, and shows failures in settings', async () => {
    const channel = await createChannel(t.store.db, { name: 'flaky', kind: 'webhook', settings: { url: `${receiver.url}/flaky`, secret: 'flaky-secret-0123456789' }, minSeverity: 'low' }, clock);
    receiver.state.status = 503;
    await new ThreatIntake(t.store, { clock }).submit({ threats: [threat('high')] });
    expect(await dispatch()).toMatchObject({ retried: 1 });
    // Not retried before the backoff elapses.
    expect(await dispatch()).toMatchObject({ retried: 0, sent: 0 });
    const settings = await t.app.inject({ url: '/api/v1/notifications/channels', headers: bearer(t.adminToken) });
    const shown = settings.json().items.find((c: { id: string }) => c.id === channel.id);
    expect(shown.lastError).toMatch(/503/);
    expect(shown.deliveries.pending).toBe(1);
    expect(JSON.stringify(shown)).not.toContain('flaky-secret');
    receiver.state.status = 200;
    clock.advance(31_000);
    expect(await dispatch()).toMatchObject({ sent: 1 });
    expect(receiver.received).toHaveLength(2);
  });

  it('gives up after the last attempt and marks the delivery failed', async () => {
    await createChannel(t.store.db, { name: 'dead', kind: 'webhook', settings: { url: `${receiver.url}/dead`, secret: 'dead-secret-0123456789' }, minSeverity: 'low' }, clock);
    receiver.state.status = 500;
    await new ThreatIntake(t.store, { clock }).submit({ threats: [threat('high')] });
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      await dispatch();
      clock.advance(60 * 60_000);
    }
    expect(receiver.received).toHaveLength(MAX_ATTEMPTS);
    const failed = await t.app.inject({ url: '/api/v1/notifications/deliveries?status=failed', headers: bearer(t.adminToken) });
    expect(failed.json().items).toHaveLength(1);
    expect(failed.json().items[0]).toMatchObject({ attempts: MAX_ATTEMPTS, status: 'failed' });
    await dispatch();
    expect(receiver.received).toHaveLength(MAX_ATTEMPTS);
  });

  it('validates channels through the API and sends a test message on request', async () => {
    const bad = await t.app.inject({ method: 'POST', url: '/api/v1/notifications/channels', headers: bearer(t.adminToken), payload: { name: 'x', kind: 'webhook', settings: { url: 'ftp://nope', secret: 'short' } } });
    expect(bad.statusCode).toBe(400);
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/notifications/channels', headers: bearer(t.adminToken), payload: { name: 'hook', kind: 'webhook', settings: { url: `${receiver.url}/t`, secret: 'test-secret-0123456789' } } });
    expect(created.statusCode).toBe(201);
    const test = await t.app.inject({ method: 'POST', url: `/api/v1/notifications/channels/${created.json().id}/test`, headers: bearer(t.adminToken) });
    expect(test.json()).toEqual({ ok: true });
    expect(JSON.parse(receiver.received[0]!.body).type).toBe('palisade.test');
  });
});

describe('channel secrets at rest', () => {
  const secretKey = 'k'.repeat(40);
  let t: Awaited<ReturnType<typeof createCenterApp>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    t = await createCenterApp({ config: { secretKey } });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
  });

  it('seals the signing secret with PALISADE_SECRET_KEY and still signs with the real one', async () => {
    const plain = 'sealed-webhook-secret-42';
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/notifications/channels', headers: bearer(t.adminToken), payload: { name: 'siem', kind: 'webhook', settings: { url: `${receiver.url}/s`, secret: plain }, minSeverity: 'low' } });
    expect(created.statusCode).toBe(201);
    expect(created.json().settings).toMatchObject({ secret: '********', sealed: true });
    const row = await t.store.db.selectFrom('notification_channels').select('settings').executeTakeFirstOrThrow();
    expect(JSON.stringify(row.settings)).not.toContain(plain);
    expect(String((row.settings as { secret: string }).secret)).toMatch(/^sealed:v1:/);

    await new ThreatIntake(t.store).submit({ threats: [threat('high')] });
    expect(await dispatchNotifications(t.store.db, { secretKey })).toMatchObject({ sent: 1 });
    const got = receiver.received[0]!;
    expect(got.headers[SIGNATURE_HEADER]).toBe(`sha256=${createHmac('sha256', plain).update(got.body).digest('hex')}`);

    // Editing other settings keeps the sealed secret.
    const edited = await t.app.inject({ method: 'PATCH', url: `/api/v1/notifications/channels/${created.json().id}`, headers: bearer(t.adminToken), payload: { settings: { url: `${receiver.url}/moved` } } });
    expect(edited.statusCode).toBe(200);
    const test = await t.app.inject({ method: 'POST', url: `/api/v1/notifications/channels/${created.json().id}/test`, headers: bearer(t.adminToken) });
    expect(test.json()).toEqual({ ok: true });
    const moved = receiver.received.at(-1)!;
    expect(moved.path).toBe('/moved');
    expect(moved.headers[SIGNATURE_HEADER]).toBe(`sha256=${createHmac('sha256', plain).update(moved.body).digest('hex')}`);
  });
});

describe.skipIf(!(await postgresAvailable()))('two servers dispatching from one PostgreSQL', () => {
  it('sends each delivery exactly once', async () => {
    const pgdb = await createTestPostgres();
    const a = await openStore({ databaseUrl: pgdb.url });
    const b = await openStore({ databaseUrl: pgdb.url });
    const receiver = await startReceiver();
    try {
      await createChannel(a.db, { name: 'siem', kind: 'webhook', settings: { url: `${receiver.url}/x`, secret: 'shared-secret-0123456789' }, minSeverity: 'low' });
      await new ThreatIntake(a).submit({ threats: Array.from({ length: 30 }, () => threat('high')) });
      // Both servers' dispatchers run at once, repeatedly, as their timers would.
      for (let round = 0; round < 3; round++) await Promise.all([dispatchNotifications(a.db), dispatchNotifications(b.db), dispatchNotifications(a.db)]);
      const ids = receiver.received.map((r) => (JSON.parse(r.body) as { alerts: { id: string }[] }).alerts[0]!.id);
      expect(ids).toHaveLength(30);
      expect(new Set(ids).size).toBe(30);
    } finally {
      await receiver.close();
      await a.close();
      await b.close();
      await pgdb.drop();
    }
  });
});
