/**
 * `npm run bench -- audit [EVENTS]`
 * (1) The audit engine alone (rule index, conditions, first-seen state, alert folding) over a
 *     realistic mixed stream built from the real samples in fixtures/audit: mostly reads (lease
 *     renewals, lists and watches), some writes (RBAC changes from the audit2rbac log, AKS lease
 *     updates), a few attacks (the rules' own fire samples). Baseline: JSON.parse of the same
 *     bytes in the same run; targets >= 100,000 events/s and >= 0.5 of the JSON.parse rate.
 *     A second line reports the whole offline pipeline (decode + validate + engine) for context.
 * (2) The HTTP webhook end to end on PostgreSQL is measured by the server's benchmark.
 */
import { readFileSync } from 'node:fs';
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
function buildStream(count: number): string[] {
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

export default async function (args: string[], emit: (r: BenchResult) => void): Promise<void> {
  if (!fixturesAvailable()) throw new Error('bench audit needs the shared fixtures (PALISADE_FIXTURES)');
  const count = Number(args[0] ?? 200_000);
  const lines = buildStream(count);
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
  const common = { events: count, bytes, avg_event_bytes: Math.round(bytes / count), rules: rules.rules.length, alerts };
  emit(result({
    bench: 'audit', metric: 'engine_events_per_s', value: engineRate, baseline: 'json_parse', baseline_value: parseRate,
    target: 'value >= 100000 and ratio >= 0.5', ok: engineRate >= 100_000 && engineRate / parseRate >= 0.5, ...common,
  }));
  emit(result({
    bench: 'audit', metric: 'pipeline_events_per_s', value: pipelineRate, baseline: 'json_parse', baseline_value: parseRate,
    target: 'informational (decode + validate + engine)', ok: true, ...common,
  }));
}
