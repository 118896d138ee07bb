/**
 * Shared by the scale tests and `npm run bench -- scale`: real AuditEvents from the fixtures with
 * unique ids, image variants with distinct digests, many `palisade server|worker` processes on one
 * PostgreSQL, and the row counts that say whether each event and each digest was processed once.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { AuditBatch, decodeAuditText } from '../../src/audit/index.js';
import { startProcess, type ServerProcess } from '../support/cli.js';
import { fixture } from '../support/fixtures.js';


// ---------------------------------------------------------------- audit events

let samples: Record<string, unknown>[] | undefined;

/** Real ResponseComplete events from the fixture logs (audit2rbac, Elastic's Kubernetes samples). */
function auditSamples(): Record<string, unknown>[] {
  if (samples) return samples;
  const batch = new AuditBatch();
  for (const file of [['audit2rbac', 'demo.log'], ['elastic-integrations', 'kubernetes', 'test-audit.log'], ['elastic-integrations', 'kubernetes', 'test-kube-audit.log']]) {
    decodeAuditText(readFileSync(fixture('audit', ...file), 'utf8'), batch);
  }
  samples = batch.events.filter((e) => e.stage === 'ResponseComplete') as unknown as Record<string, unknown>[];
  if (samples.length === 0) throw new Error('no audit samples in fixtures/audit');
  return samples;
}

/** `count` events (JSON text), each a real sample with its own auditID `PREFIX-N` and time. */
export function auditEvents(prefix: string, count: number, start = Date.UTC(2025, 5, 1)): string[] {
  const all = auditSamples();
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const e = { ...all[i % all.length]! };
    const at = new Date(start + i * 7).toISOString();
    e.auditID = `${prefix}-${i}`;
    e.requestReceivedTimestamp = at;
    e.stageTimestamp = at;
    lines.push(JSON.stringify(e));
  }
  return lines;
}

/** An `audit.k8s.io/v1` EventList, as the kube-apiserver's webhook backend sends it. */
export function eventList(lines: string[]): string {
  return `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[${lines.join(',')}]}`;
}

export interface Batch {
  id: number;
  events: number;
  body: string;
}

export function batches(prefix: string, count: number, size: number): Batch[] {
  const lines = auditEvents(prefix, count);
  const out: Batch[] = [];
  for (let i = 0; i * size < lines.length; i++) {
    const slice = lines.slice(i * size, (i + 1) * size);
    out.push({ id: i, events: slice.length, body: eventList(slice) });
  }
  return out;
}

/** POSTs one batch; resolves with the HTTP status (0 when the connection failed). */
export async function postBatch(url: string, token: string, body: string, timeoutMs = 30_000): Promise<number> {
  try {
    const response = await fetch(`${url}/ingest/audit`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------- images

export { imageVariants } from '../support/image-variants.js';

// ---------------------------------------------------------------- processes

export interface ProcessOptions {
  databaseUrl: string;
  cwd: string;
  env?: Record<string, string>;
  port?: number;
}

/** Settings every process of a scaled-out install shares: PostgreSQL, jobs left to the workers. */
export function clusterEnv(options: ProcessOptions): Record<string, string> {
  return {
    PALISADE_DATABASE_URL: options.databaseUrl,
    PALISADE_SERVER_RUNS_JOBS: 'false',
    PALISADE_LOG_LEVEL: 'info',
    PALISADE_POLL_SCHEDULE: 'off',
    PALISADE_DATA_DIR: path.join(options.cwd, '.palisade'),
    ...options.env,
  };
}

export function startServer(options: ProcessOptions): Promise<ServerProcess> {
  return startProcess(['server', '--port', String(options.port ?? 0)], { cwd: options.cwd, env: clusterEnv(options), readyPattern: /palisade server ready/ });
}

export function startWorker(options: ProcessOptions): Promise<ServerProcess> {
  return startProcess(['worker'], { cwd: options.cwd, env: clusterEnv(options), readyPattern: /palisade worker ready/ });
}

/** Calls the API with the admin token; throws with the body on an unexpected status. */
export async function api<T = Record<string, unknown>>(url: string, admin: string, route: string, body?: unknown): Promise<T> {
  const response = await fetch(`${url}${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${route} answered ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

export async function createToken(url: string, admin: string, scope: string): Promise<string> {
  return (await api<{ secret: string }>(url, admin, '/api/v1/tokens', { scope })).secret;
}

// ---------------------------------------------------------------- counts

export interface Counts {
  /** Rows in audit_events for the cluster. */
  auditRows: number;
  /** Distinct (audit_id, stage) among them. */
  auditDistinct: number;
  /** Succeeded scans per digest. */
  scansPerDigest: Map<string, number>;
  /** job_effects keys `scan:DIGEST` (the scan's once-only key). */
  scanEffects: number;
  /** Metered image scans. */
  meteredScans: number;
}

export async function query<T extends pg.QueryResultRow>(databaseUrl: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export async function counts(databaseUrl: string, cluster: string): Promise<Counts> {
  const [audit] = await query<{ rows: string; distinct: string }>(databaseUrl,
    `select count(*) as rows, count(distinct (audit_id, stage)) as distinct from audit_events where cluster = $1`, [cluster]);
  const scans = await query<{ digest: string; n: string }>(databaseUrl, `select digest, count(*) as n from image_scans where status = 'succeeded' group by digest`);
  const [effects] = await query<{ n: string }>(databaseUrl, `select count(*) as n from job_effects where key like 'scan:sha256:%' and key not like '%:rescan:%'`);
  const [usage] = await query<{ n: string | null }>(databaseUrl, `select sum(quantity) as n from usage where meter = 'image_scans'`);
  return {
    auditRows: Number(audit!.rows),
    auditDistinct: Number(audit!.distinct),
    scansPerDigest: new Map(scans.map((s) => [s.digest, Number(s.n)])),
    scanEffects: Number(effects!.n),
    meteredScans: Number(usage?.n ?? 0),
  };
}

/** Audit ids stored for the cluster, with how many rows each has. */
export async function storedAuditIds(databaseUrl: string, cluster: string): Promise<Map<string, number>> {
  const rows = await query<{ audit_id: string; n: string }>(databaseUrl, `select audit_id, count(*) as n from audit_events where cluster = $1 group by audit_id`, [cluster]);
  return new Map(rows.map((r) => [r.audit_id, Number(r.n)]));
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** User + system CPU seconds of a process so far (Linux /proc/PID/stat). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 (1-based), 12 and 13 after the command name.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

const CLOCK_TICKS = 100;
