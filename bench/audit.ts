/**
 * `npm run bench -- audit [EVENTS] [--engine-only | --webhook-only]`
 * (1) The audit engine alone (rule index, conditions, first-seen state, alert folding) over a
 *     realistic mixed stream built from the real samples in fixtures/audit: mostly reads (lease
 *     renewals, lists and watches), some writes (RBAC changes from the audit2rbac log, AKS lease
 *     updates), a few attacks (the rules' own fire samples, Falco's recorded events among them), with
 *     every built-in rule loaded (disabled ones stay off, as in a default install). Baseline:
 *     JSON.parse of the same bytes in the same run; targets >= 300,000 events/s and >= 1.0x the
 *     JSON.parse rate (issue 16), both meant for an idle machine: the JSON line reports the load average.
 *     A second line reports the whole offline pipeline (decode + validate + engine) for context.
 * (2) The HTTP webhook end to end with storage on PostgreSQL: 400-event EventList batches from
 *     the same stream POSTed over loopback HTTP by a few concurrent senders to POST /ingest/audit
 *     (events stored, alerts recorded, state flushed before each answer). Baseline: the same
 *     bodies POSTed to a route that only parses them, on the same server in the same run.
 *     Targets: >= 20,000 events/s sustained and p99 batch latency < 250 ms.
 *     Client and server share this process (and its core), so the figures are conservative.
 *     Skipped when PostgreSQL is not reachable (PALISADE_TEST_POSTGRES).
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { sql, type Kysely } from 'kysely';
import { loadConfig, systemClock } from '../src/core/index.js';
import { authentication } from '../src/server/auth.js';
import type { ServerContext } from '../src/server/context.js';
import { installErrorHandling } from '../src/server/errors.js';
import { auditIngestRoutes } from '../src/server/routes/ingest/audit.js';
import { createToken, openStore, type Database } from '../src/store/index.js';
import { createTestPostgres, postgresAvailable } from '../test/support/postgres.js';
import { AuditBatch, AuditDetector, AuditRuleEngine, decodeAuditText, loadAuditRules, type AuditEvent } from '../src/audit/index.js';
import { fixture, fixturesAvailable } from '../test/support/fixtures.js';
import { result, type BenchResult } from './result.js';

const ROUNDS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Deterministic pseudo-random numbers, so every run measures the same stream. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function realSamples(): { reads: Record<string, unknown>[]; writes: Record<string, unknown>[] } {
  const batch = new AuditBatch();
  for (const file of [['audit2rbac', 'demo.log'], ['elastic-integrations', 'kubernetes', 'test-audit.log'], ['elastic-integrations', 'kubernetes', 'test-kube-audit.log'], ['elastic-integrations', 'gcp', 'test-k8s-nonmatching-resourcename.log']]) {
    decodeAuditText(readFileSync(fixture('audit', ...file), 'utf8'), batch);
  }
  const reads: Record<string, unknown>[] = [];
  const writes: Record<string, unknown>[] = [];
  for (const e of batch.events) {
    if (e.stage !== 'ResponseComplete') continue;
    (['get', 'list', 'watch'].includes(e.verb) ? reads : writes).push(e as unknown as Record<string, unknown>);
  }
  return { reads, writes };
}

/** The stream as JSON lines: 90% reads, 9% writes, 1% attacks, with varied names, users and times. */
export function buildStream(count: number): string[] {
  const { reads, writes } = realSamples();
  const attacks = loadAuditRules({ dir: null }).rules.flatMap((r) => r.rule.samples.fire.map((s) => s.events.at(-1)!)) as unknown as Record<string, unknown>[];
  const random = rng(42);
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)]!;
  const namespaces = ['default', 'kube-system', 'payments', 'shop', 'monitoring', 'ingress-nginx'];
  const start = Date.UTC(2025, 5, 1);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = random();
    const base = r < 0.9 ? pick(reads) : r < 0.99 ? pick(writes) : pick(attacks);
    const at = new Date(start + i * 10).toISOString();
    const e = structuredClone(base) as Record<string, unknown> & { objectRef?: Record<string, unknown>; user: Record<string, unknown> };
    e.auditID = `bench-${i}`;
    e.requestReceivedTimestamp = at;
    e.stageTimestamp = at;
    if (e.objectRef && r < 0.9) {
      e.objectRef.namespace = pick(namespaces);
      if (e.objectRef.name) e.objectRef.name = `${String(e.objectRef.name)}-${i % 200}`;
    }
    if (r < 0.9 && String(e.user.username).startsWith('system:serviceaccount:')) e.user = { ...e.user, username: `system:serviceaccount:${pick(namespaces)}:app-${i % 50}` };
    lines.push(JSON.stringify(e));
  }
  return lines;
}

function rate(count: number, ms: number): number {
  return Math.round(count / (ms / 1000));
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * CPU seconds the PostgreSQL backends serving `db` have used so far (utime + stime from /proc, which
 * exists when the server runs on this machine, as the loopback test server does; 0 otherwise).
 */
async function postgresCpu(db: Kysely<Database>): Promise<Map<number, number>> {
  const rows = (await sql<{ pid: number }>`select pid from pg_stat_activity where datname = current_database()`.execute(db)).rows;
  const ticks = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks.set(pid, (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // not on this machine, or gone
    }
  }
  return ticks;
}

function cpuSpent(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}

/** Thousands separated, for the summary people read (the JSON lines keep plain numbers). */
function n(value: number): string {
  return value.toLocaleString('en-US');
}

/**
 * One line per target on stderr, measured against target with the same-run baseline, so a person
 * sees at a glance what met its target and under which load (JSON consumers read stdout only).
 */
function summary(title: string, rows: Array<[label: string, measured: string, target: string, baseline: string, ok: boolean]>, note: string): void {
  const width = Math.max(...rows.map((r) => r[0].length));
  const lines = rows.map(([label, measured, target, baseline, ok]) =>
    `  ${ok ? 'MET ' : 'MISS'}  ${label.padEnd(width)}  measured ${measured.padStart(9)}   target ${target.padEnd(10)}  ${baseline}`);
  console.error(`${title}\n${lines.join('\n')}\n  ${note}`);
}

function loadNote(): string {
  return `load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cpus; targets are for an idle machine`;
}

interface Sent {
  seconds: number;
  latencies: number[];
}

/** Sends every body once with `concurrency` senders; fails on any non-200 answer. */
async function send(url: string, token: string, bodies: string[], concurrency: number): Promise<Sent> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const t = performance.now();
      const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 300)}`);
      latencies.push(performance.now() - t);
    }
  }));
  return { seconds: (performance.now() - started) / 1000, latencies };
}

async function webhook(lines: string[], emit: (r: BenchResult) => void): Promise<void> {
  if (!(await postgresAvailable())) {
    console.error('bench audit: PostgreSQL not reachable, webhook part skipped');
    return;
  }
  const BATCH = 400;
  const CONCURRENCY = 4;
  const batches = Math.min(Math.floor(lines.length / BATCH), 200);
  const bodies: string[] = [];
  for (let i = 0; i < batches; i++) {
    bodies.push(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[${lines.slice(i * BATCH, (i + 1) * BATCH).join(',')}]}`);
  }
  const pg = await createTestPostgres();
  const store = await openStore({ databaseUrl: pg.url });
  const context: ServerContext = { config: loadConfig({ env: {}, cwd: process.cwd() }), store, jobs: undefined, clock: systemClock };
  const app = Fastify({ bodyLimit: 32 * 1024 * 1024, logger: process.env.BENCH_LOG ? { level: 'error' } : false });
  try {
    installErrorHandling(app);
    await app.register(authentication, { context });
    await app.register(auditIngestRoutes, { context });
    app.post('/echo', { config: { auth: 'cluster' }, bodyLimit: 32 * 1024 * 1024 }, async (request) => ({ events: (request.body as { items: unknown[] }).items.length }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const token = (await createToken(store.db, 'cluster:bench')).secret;
    // Warm-up on a separate cluster's worth of bodies would pollute the table: warm the echo route only.
    await send(`${base}/echo`, token, bodies.slice(0, 10), CONCURRENCY);
    const echoCpuBefore = process.cpuUsage();
    const echo = await send(`${base}/echo`, token, bodies, CONCURRENCY);
    const echoCpu = process.cpuUsage(echoCpuBefore);
    // Transactions this database committed during the ingest: a load-independent measure of the
    // write path's cost (each commit waits for a WAL flush), unlike rates on a shared machine.
    const commits = async () => Number((await sql<{ n: string }>`select xact_commit as n from pg_stat_database where datname = current_database()`.execute(store.db)).rows[0]!.n);
    const commitsBefore = await commits();
    // CPU time per event, of this process (server and client) and of the database's backends: less
    // sensitive to other load than rates are, so before/after comparisons hold on a busy machine.
    const pgBefore = await postgresCpu(store.db);
    const cpuBefore = process.cpuUsage();
    const ingest = await send(`${base}/ingest/audit`, token, bodies, CONCURRENCY);
    const cpu = process.cpuUsage(cpuBefore);
    const pgAfter = await postgresCpu(store.db);
    await new Promise((resolve) => setTimeout(resolve, 600)); // statistics are reported every 500 ms
    const commitsPerBatch = Math.round(((await commits()) - commitsBefore) / batches * 100) / 100;
    const events = batches * BATCH;
    const rateIngest = Math.round(events / ingest.seconds);
    const rateEcho = Math.round(events / echo.seconds);
    const p99 = Math.round(percentile(ingest.latencies, 99));
    const p99Echo = Math.round(percentile(echo.latencies, 99));
    const common = {
      events, batch: BATCH, concurrency: CONCURRENCY, store: 'postgres', in_process_client: true, p50_ms: Math.round(percentile(ingest.latencies, 50)),
      commits_per_batch: commitsPerBatch,
      node_cpu_us_per_event: Math.round((cpu.user + cpu.system) / (batches * BATCH) * 10) / 10,
      node_cpu_us_per_event_parse_only: Math.round((echoCpu.user + echoCpu.system) / (batches * BATCH) * 10) / 10,
      postgres_cpu_us_per_event: Math.round(cpuSpent(pgBefore, pgAfter) * 1e6 / (batches * BATCH) * 10) / 10,
      load_average_1m: Math.round(loadavg()[0]! * 100) / 100,
    };
    emit(result({
      bench: 'audit', metric: 'webhook_events_per_s', value: rateIngest, baseline: 'http_json_parse_only', baseline_value: rateEcho,
      target: 'value >= 20000', ok: rateIngest >= 20_000, ...common,
    }));
    emit(result({
      bench: 'audit', metric: 'webhook_p99_batch_ms', value: p99, baseline: 'http_json_parse_only_p99_ms', baseline_value: p99Echo,
      target: 'value < 250', ok: p99 < 250, ...common,
    }));
    summary(`audit webhook ingest on PostgreSQL (${n(events)} events, ${BATCH}-event batches, ${CONCURRENCY} senders in this process)`, [
      ['events/s', n(rateIngest), '>= 20,000', `parse-only route, same run: ${n(rateEcho)}`, rateIngest >= 20_000],
      ['p99 batch ms', n(p99), '< 250', `parse-only route, same run: ${n(p99Echo)} (p50 ${n(common.p50_ms)})`, p99 < 250],
    ], `CPU per event: server ${common.node_cpu_us_per_event} us (parse-only ${common.node_cpu_us_per_event_parse_only}), PostgreSQL ${common.postgres_cpu_us_per_event} us; ${commitsPerBatch} commits a batch; ${loadNote()}`);
  } finally {
    await app.close();
    await store.close();
    await pg.drop();
  }
}

export default async function (args: string[], emit: (r: BenchResult) => void): Promise<void> {
  if (!fixturesAvailable()) throw new Error('bench audit needs the shared fixtures (PALISADE_FIXTURES)');
  const count = Number(args.find((a) => /^\d+$/.test(a)) ?? 200_000);
  const lines = buildStream(count);
  if (args.includes('--webhook-only')) return webhook(lines, emit);
  const text = lines.join('\n') + '\n';
  const bytes = Buffer.byteLength(text);
  const rules = loadAuditRules({ dir: null });

  // Pre-decoded events for the engine-alone measurement.
  const decoded = new AuditBatch();
  decodeAuditText(text, decoded);
  if (decoded.errors.length) throw new Error(`stream has bad events: ${JSON.stringify(decoded.errors[0])}`);
  const events: AuditEvent[] = decoded.events;

  const parseTimes: number[] = [];
  const engineTimes: number[] = [];
  const pipelineTimes: number[] = [];
  let alerts = 0;
  let sink = 0;
  for (let round = 0; round < ROUNDS + 1; round++) {
    let t = performance.now();
    for (const line of lines) sink += (JSON.parse(line) as { verb: string }).verb.length;
    const parseMs = performance.now() - t;

    const detector = new AuditDetector({ rules: new AuditRuleEngine(rules), cluster: 'bench' });
    t = performance.now();
    const touched = detector.process(events);
    const engineMs = performance.now() - t;

    const pipeline = new AuditDetector({ rules: new AuditRuleEngine(rules), cluster: 'bench' });
    t = performance.now();
    // As the CLI and the webhook do: decode into chunks and hand each chunk to the detector.
    let chunk: AuditEvent[] = [];
    decodeAuditText(text, {
      event(e) {
        chunk.push(e);
        if (chunk.length === 1000) {
          pipeline.process(chunk);
          chunk = [];
        }
      },
      error() {},
    });
    pipeline.process(chunk);
    const pipelineMs = performance.now() - t;

    if (round === 0) continue; // warm-up
    parseTimes.push(parseMs);
    engineTimes.push(engineMs);
    pipelineTimes.push(pipelineMs);
    alerts = touched.length;
  }
  if (sink === 0) throw new Error('unreachable');

  const parseRate = rate(count, median(parseTimes));
  const engineRate = rate(count, median(engineTimes));
  const pipelineRate = rate(count, median(pipelineTimes));
  const common = {
    events: count, bytes, avg_event_bytes: Math.round(bytes / count), rules: rules.rules.filter((r) => r.rule.enabled).length, alerts,
    load_average_1m: Math.round(loadavg()[0]! * 100) / 100, cpus: cpus().length,
  };
  emit(result({
    bench: 'audit', metric: 'engine_events_per_s', value: engineRate, baseline: 'json_parse', baseline_value: parseRate,
    target: 'value >= 300000 and ratio >= 1.0', ok: engineRate >= 300_000 && engineRate / parseRate >= 1.0, ...common,
  }));
  emit(result({
    bench: 'audit', metric: 'pipeline_events_per_s', value: pipelineRate, baseline: 'json_parse', baseline_value: parseRate,
    target: 'informational (decode + validate + engine)', ok: true, ...common,
  }));
  summary(`audit engine (${n(count)} events, ${common.rules} rules)`, [
    ['events/s', n(engineRate), '>= 300,000', `JSON.parse of the same bytes, same run: ${n(parseRate)}`, engineRate >= 300_000],
    ['x JSON.parse', (engineRate / parseRate).toFixed(2), '>= 1.0', '', engineRate / parseRate >= 1.0],
  ], `decode + validate + engine: ${n(pipelineRate)} events/s; ${loadNote()}`);
  if (!args.includes('--engine-only')) await webhook(lines, emit);
}
