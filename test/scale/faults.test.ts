/**
 * Load and faults (bounded, loopback only): sustained audit ingest into two `palisade server`s
 * while images are pushed and an agent ships to the second server; meanwhile a worker is killed
 * with SIGKILL in the middle of a scan, PostgreSQL is restarted, and the second server is stopped
 * and started again. Afterwards every accepted audit event (2xx answer) is stored exactly once,
 * every pushed digest is scanned exactly once, and the agent's spool has drained with every event
 * stored. PostgreSQL here is a private cluster (test/support/private-postgres.ts): restarting the
 * shared one would break the other test files running at the same time.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../../src/agent/index.js';
import type { ServerProcess } from '../support/cli.js';
import { fixturesAvailable } from '../support/fixtures.js';
import { createPrivatePostgres, privatePostgresAvailable, type PrivatePostgres } from '../support/private-postgres.js';
import { freePort, registryAvailable, startRegistry, type LocalRegistry } from '../registry/registry.js';
import { api, batches, counts, createToken, imageVariants, query, startServer, startWorker, storedAuditIds, waitFor, type Batch } from './support.js';

const ready = fixturesAvailable() && registryAvailable() && privatePostgresAvailable();

const CLUSTER = 'fault';
/** The audit benchmark's webhook path sustains well over this; the faults are what is under test. */
const EVENTS_PER_SECOND = 2500;
const LOAD_SECONDS = 25;
const BATCH = 250;
const IMAGES = 8;
/**
 * A scan whose worker died stays `active` in pg-boss until the scan queue's expiry (15 minutes by
 * default) and the next maintenance pass (every 60 s) hand it to another worker. The test
 * shortens that expiry in the database so the lost scan comes back within its time budget.
 */
const SCAN_EXPIRY_SECONDS = 30;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LoadReport {
  sent: number;
  acceptedEvents: number;
  acceptedIds: Set<number>;
  gaveUp: number[];
  attempts: number;
  /** Non-2xx answers (0: the connection failed) by status. */
  failures: Record<string, number>;
  /** Events the servers answered as already stored (a retry of a batch that had been stored). */
  duplicatesAnswered: number;
}

/**
 * Sends the batches paced at `eventsPerSecond`, alternating servers; a batch answered with an
 * error (or no answer) is sent again to the next server until accepted, as the kube-apiserver's
 * webhook backend retries.
 */
async function sustainedLoad(urls: string[], token: string, all: Batch[], eventsPerSecond: number, giveUpAt: () => number): Promise<LoadReport> {
  const report: LoadReport = { sent: 0, acceptedEvents: 0, acceptedIds: new Set(), gaveUp: [], attempts: 0, failures: {}, duplicatesAnswered: 0 };
  const interval = (BATCH / eventsPerSecond) * 1000;
  const started = Date.now();
  const tasks: Array<Promise<void>> = [];
  let inFlight = 0;
  for (const batch of all) {
    const due = started + batch.id * interval;
    while (Date.now() < due || inFlight >= 32) await sleep(Math.max(5, Math.min(50, due - Date.now())));
    inFlight++;
    report.sent += batch.events;
    tasks.push((async () => {
      for (let attempt = 0; ; attempt++) {
        const url = urls[(batch.id + attempt) % urls.length]!;
        report.attempts++;
        const answer = await postWithBody(url, token, batch.body);
        if (answer.status >= 200 && answer.status < 300) {
          report.acceptedIds.add(batch.id);
          report.acceptedEvents += batch.events;
          report.duplicatesAnswered += answer.duplicates;
          break;
        }
        report.failures[answer.status] = (report.failures[answer.status] ?? 0) + 1;
        if (Date.now() > giveUpAt()) {
          report.gaveUp.push(batch.id);
          break;
        }
        await sleep(250);
      }
      inFlight--;
    })());
  }
  await Promise.all(tasks);
  return report;
}

async function postWithBody(url: string, token: string, body: string): Promise<{ status: number; duplicates: number }> {
  try {
    const response = await fetch(`${url}/ingest/audit`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(20_000) });
    const text = await response.text();
    const duplicates = response.ok ? Number((JSON.parse(text) as { duplicates?: number }).duplicates ?? 0) : 0;
    return { status: response.status, duplicates };
  } catch {
    return { status: 0, duplicates: 0 };
  }
}

describe.skipIf(!ready)('load and faults: a killed worker, a PostgreSQL restart and a stopped server lose and duplicate nothing', () => {
  let postgres: PrivatePostgres;
  let dir: string;
  let imagesDir: string;
  let layout: string;
  const processes: ServerProcess[] = [];
  const registries: LocalRegistry[] = [];
  let stopAgent: (() => Promise<unknown>) | undefined;

  beforeAll(async () => {
    [postgres, { layout, dir: imagesDir }] = await Promise.all([createPrivatePostgres(), imageVariants(IMAGES, 'fault')]);
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-faults-'));
  });

  afterAll(async () => {
    await stopAgent?.();
    await Promise.all(processes.map((p) => p.stop('SIGKILL').catch(() => {})));
    await Promise.all(registries.map((r) => r.stop()));
    await postgres?.drop();
    for (const d of [dir, imagesDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('reports accepted, stored, duplicated and lost: nothing lost, nothing twice', async () => {
    const env = { PALISADE_RESCAN_SCHEDULE: 'off', PALISADE_DB_UPDATE_SCHEDULE: 'off', PALISADE_SHUTDOWN_TIMEOUT_MS: '5000' };
    const options = { databaseUrl: postgres.url, cwd: dir, env };
    const [portA, portB] = [await freePort(), await freePort()];
    const serverA = await startServer({ ...options, port: portA });
    processes.push(serverA);
    const admin = serverA.adminToken!;
    let serverB = await startServer({ ...options, port: portB });
    const workers = await Promise.all([startWorker(options), startWorker(options)]);
    processes.push(serverB, ...workers);
    await query(postgres.url, `update pgboss.queue set expire_seconds = $1 where name = 'registry-scan'`, [SCAN_EXPIRY_SECONDS]);

    const token = await createToken(serverA.url, admin, `cluster:${CLUSTER}`);
    for (const [name, server] of [['east', serverA], ['west', serverB]] as const) {
      const registryToken = await createToken(server.url, admin, `registry:${name}`);
      const registry = await startRegistry({ notifications: { url: `${server.url}/ingest/registry/${name}`, token: registryToken } });
      registries.push(registry);
      await api(server.url, admin, '/api/v1/registries', { name, url: registry.url, kind: 'distribution' });
    }
    const [east, west] = registries as [LocalRegistry, LocalRegistry];

    // The node agent (the one `palisade agent` runs, here in this process so the ids it produced
    // can be compared with what was stored) ships to server B, and spools while B is away.
    const spoolDir = path.join(dir, 'agent-spool');
    const produced = new Set<string>();
    const controller = new AbortController();
    const agentRun = runAgent({ node: 'fault-node', server: serverB.url, token, intervalMs: 500, spoolDir, heartbeatMs: 10_000, watchFiles: false, signal: controller.signal, onCollection: (c) => c.events.forEach((e) => produced.add(e.id)) });
    stopAgent = () => {
      controller.abort();
      return agentRun;
    };
    const spooled = async () => (await readdir(spoolDir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).length;

    const all = batches('fault', EVENTS_PER_SECOND * LOAD_SECONDS, BATCH);
    let giveUpAt = Number.POSITIVE_INFINITY;
    const t0 = Date.now();
    const timeline: string[] = [];
    const mark = (what: string) => timeline.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
    const load = sustainedLoad([serverA.url, serverB.url], token, all, EVENTS_PER_SECOND, () => giveUpAt);

    // Pushes through both registries during the load: east notifies A, west notifies B.
    const pushed: string[] = [];
    const pushes = (async () => {
      for (let n = 0; n < IMAGES; n++) {
        await (n % 2 ? west : east).push(`oci:${layout}:variant-${n}`, `fault/app:v${n}`);
        pushed.push(`variant-${n}`);
        mark(`pushed variant-${n} to ${n % 2 ? 'west' : 'east'}`);
        await sleep(1500);
      }
    })();

    // Fault 1: SIGKILL the first worker seen scanning, in the middle of its scan.
    await sleep(2000);
    const victim = await waitFor('a worker to start a scan', async () => workers.find((w) => w.output().includes('"msg":"scanning image"')), 20_000, 20);
    await victim.stop('SIGKILL');
    mark(`SIGKILL worker ${victim.child.pid} mid-scan`);

    // Fault 2: restart PostgreSQL (every connection of every process is cut).
    await sleep(Math.max(0, t0 + 9000 - Date.now()));
    mark('PostgreSQL restart begins');
    await postgres.restart();
    mark('PostgreSQL restarted');

    // Fault 3: stop server B (SIGTERM) for a while, then start it again on the same port.
    await sleep(Math.max(0, t0 + 14_000 - Date.now()));
    await serverB.stop();
    const stoppedAt = Date.now();
    mark('server B stopped');
    let spooledDuringOutage = 0;
    while (Date.now() < stoppedAt + 5000 || (spooledDuringOutage === 0 && Date.now() < stoppedAt + 15_000)) {
      spooledDuringOutage = Math.max(spooledDuringOutage, await spooled());
      await sleep(250);
    }
    serverB = await startServer({ ...options, port: portB });
    processes.push(serverB);
    mark(`server B started again; the agent spool held up to ${spooledDuringOutage} batches`);

    await pushes;
    // Batches still failing 60 s after the load would count as not accepted (and must then not be assumed stored).
    giveUpAt = Date.now() + 60_000;
    const report = await load;
    mark(`load done: ${report.acceptedIds.size}/${all.length} batches accepted`);

    // Every accepted push scanned, the killed worker's scan included (it comes back after its expiry).
    // A push is accepted once a server has recorded its registry notification (the image row): in
    // some runs Distribution stops notifying the server it was retrying during the PostgreSQL
    // restart, and those pushes never reach Palisade; they are reported as not delivered.
    const scansDone = async () => {
      const c = await counts(postgres.url, CLUSTER);
      const [pending] = await query<{ n: string }>(postgres.url, `select count(*) as n from pgboss.job where name = 'registry-scan' and state in ('created', 'retry', 'active')`);
      const [recorded] = await query<{ n: string }>(postgres.url, 'select count(distinct digest) as n from images');
      return Number(recorded!.n) > 0 && c.scansPerDigest.size >= Number(recorded!.n) && Number(pending!.n) === 0 ? c : undefined;
    };
    const scanned = await waitFor('every pushed digest scanned and the scan queue idle', scansDone, 150_000, 1000).catch(async (error: Error) => {
      const jobs = await query(postgres.url, `select state, retry_count, started_on, data->>'registry' as registry, data->>'digest' as digest, output from pgboss.job where name = 'registry-scan' order by created_on`);
      const warnings = processes.flatMap((p) => p.output().split('\n').filter((l) => /"level":(40|50|60)/.test(l))).slice(-30);
      const images = await query(postgres.url, 'select registry, repository, digest, last_scanned from images order by id');
      const registryRequests = processes.slice(0, 2).map((p) => p.output().split('\n').filter((l) => l.includes('/ingest/registry/')).map((l) => l.slice(0, 400)).slice(-40));
      const workerTail = workers.filter((w) => w !== victim).map((w) => w.output().split('\n').filter((l) => !l.includes('/ingest/')).slice(-25).map((l) => l.slice(0, 300)).join('\n'));
      throw new Error(`${error.message}\ntimeline:\n  ${timeline.join('\n  ')}\nsurviving worker's last lines:\n${workerTail.join('\n')}\nscan jobs: ${JSON.stringify(jobs.map((j) => [j.state, j.retry_count, j.registry, String(j.digest).slice(7, 19)]))}\nimages: ${JSON.stringify(images)}\nwarnings:\n${warnings.join('\n')}\nregistry webhooks on A:\n${registryRequests[0]!.join('\n')}`);
    });
    mark('all scans done');
    await waitFor('the agent spool to drain', async () => (await spooled()) === 0, 30_000, 250);
    controller.abort();
    const agentStats = await agentRun;
    stopAgent = undefined;

    // What the database holds.
    const stored = await storedAuditIds(postgres.url, CLUSTER);
    const c = await counts(postgres.url, CLUSTER);
    const acceptedIds = new Set<string>();
    for (const batch of all) {
      if (!report.acceptedIds.has(batch.id)) continue;
      for (let i = batch.id * BATCH; i < batch.id * BATCH + batch.events; i++) acceptedIds.add(`fault-${i}`);
    }
    let lost = 0;
    for (const id of acceptedIds) if (!stored.has(id)) lost++;
    const duplicated = [...stored.values()].reduce((n, k) => n + (k - 1), 0) + (c.auditRows - c.auditDistinct);
    const scanDuplicates = [...c.scansPerDigest.values()].reduce((n, k) => n + (k - 1), 0);
    const agentRows = await query<{ id: string }>(postgres.url, `select id from agent_events where node = 'fault-node' and kind <> 'alert'`);
    const agentStored = new Set(agentRows.map((r) => r.id));
    const agentLost = [...produced].filter((id) => !agentStored.has(id)).length;
    const images = await query<{ digest: string; last_scanned: Date | null }>(postgres.url, 'select digest, last_scanned from images');

    const summary = {
      audit: { sent: report.sent, accepted: report.acceptedEvents, stored: c.auditRows, duplicated, lost, retries: report.attempts - all.length, failedAnswers: report.failures, duplicatesRecognised: report.duplicatesAnswered, gaveUpBatches: report.gaveUp.length },
      pushes: { pushed: pushed.length, accepted: images.length, notDelivered: IMAGES - images.length, digestsScanned: c.scansPerDigest.size, scanEffects: c.scanEffects, meteredScans: c.meteredScans, duplicated: scanDuplicates, lost: images.length - c.scansPerDigest.size },
      agent: { collected: produced.size, batchesSent: agentStats.sent, stored: agentRows.length, lost: agentLost, spooledAtEnd: agentStats.spooled, dropped: agentStats.dropped, spooledDuringOutage },
      seconds: Math.round((Date.now() - t0) / 1000),
    };
    console.log(`faults timeline:\n  ${timeline.join('\n  ')}\nfaults summary: ${JSON.stringify(summary, null, 2)}`);

    // The faults happened and were felt.
    expect(Object.keys(report.failures).length, 'some batches failed during the faults and were retried').toBeGreaterThan(0);
    expect(spooledDuringOutage, 'the agent spooled while its server was down').toBeGreaterThan(0);
    // Audit: every accepted event stored exactly once.
    expect(report.gaveUp).toEqual([]);
    expect(report.acceptedEvents).toBe(report.sent);
    expect(lost).toBe(0);
    expect(duplicated).toBe(0);
    expect(c.auditRows).toBe(acceptedIds.size);
    // Pushes: every accepted digest scanned exactly once, the one cut by the SIGKILL included.
    expect(images.length).toBeGreaterThan(0);
    expect(scanned.scansPerDigest.size).toBe(images.length);
    expect([...c.scansPerDigest.values()]).toEqual(Array(images.length).fill(1));
    expect(c.scanEffects).toBe(images.length);
    expect(c.meteredScans).toBe(images.length);
    expect(images.filter((i) => i.last_scanned === null)).toEqual([]);
    // Agent: the spool drained, nothing dropped, every collected event stored once.
    expect(agentStats.spooled).toBe(0);
    expect(agentStats.dropped).toBe(0);
    expect(agentLost).toBe(0);
    expect(agentRows.length).toBe(produced.size);
  }, 240_000);
});
