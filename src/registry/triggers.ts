import { isPlanEnabled } from '../center/index.js';
import type { Clock } from '../core/index.js';
import type { JobQueue } from '../jobs/index.js';
import type { Kysely } from 'kysely';
import { inTransaction, recordImageDeletes, recordImagePulls, recordImagePushes, type Database, type Store } from '../store/index.js';
import type { RegistryEvent } from './events.js';
import type { ScanRequest } from './scan.js';
import { queueScans, yieldToOtherRequests } from './scan-queue.js';
import { renewEcrLogins } from './connectors/index.js';

export interface IngestOutcome {
  events: number;
  scansQueued: number;
  /** True when the registry's plan is off: inventory was recorded, nothing will be scanned. */
  planOff: boolean;
}

/** Events written per transaction, a few statements each: other requests are answered between batches. */
export const INGEST_BATCH = 50;

/**
 * Records what a registry reported and queues the scans it calls for. Everything here is
 * idempotent, so a retried delivery changes nothing twice; the caller acknowledges only after it returns.
 *
 * A delivery may carry thousands of events: repeats are collapsed first (the same push of the
 * same digest under the same tag changes nothing the second time), the rest are written in
 * batches of INGEST_BATCH, one transaction each, yielding between them, and the scans are
 * queued fairly among registries (scan-queue.ts).
 */
export async function ingestRegistryEvents(context: { store: Store; jobs: JobQueue | undefined; clock: Clock; config?: { secretKey?: string | undefined }; ecrEndpoint?: string }, registry: string, events: RegistryEvent[]): Promise<IngestOutcome> {
  const { db } = context.store;
  const planOn = await isPlanEnabled(db, `registry:${registry}`);
  const scans: ScanRequest[] = [];
  const effective = collapseRepeats(events);
  for (let i = 0; i < effective.length; i += INGEST_BATCH) {
    await inTransaction(db, async (tx) => {
      for (const run of runsOfOneKind(effective.slice(i, i + INGEST_BATCH))) await recordRun(tx, registry, run, scans);
    });
    await yieldToOtherRequests();
  }
  if (planOn && scans.length && context.config) await ensureEcrLogin(context, context.config.secretKey, registry);
  const scansQueued = planOn && context.jobs ? await queueScans({ store: context.store, jobs: context.jobs }, scans) : 0;
  return { events: events.length, scansQueued, planOff: !planOn };
}

type EventKind = 'push' | 'pull' | 'delete' | 'none';

function kindOf(event: RegistryEvent): EventKind {
  switch (event.action) {
    case 'push':
    case 'mount':
    case 'quarantine':
      return 'push';
    case 'pull':
      return 'pull';
    case 'delete':
      return 'delete';
    case 'chart_push':
      return 'none';
  }
}

/** Consecutive events of one kind: each run is one statement, and runs keep their order (a delete after a push stays after it). */
function runsOfOneKind(events: RegistryEvent[]): Array<{ kind: EventKind; events: RegistryEvent[] }> {
  const runs: Array<{ kind: EventKind; events: RegistryEvent[] }> = [];
  for (const event of events) {
    const kind = kindOf(event);
    const last = runs[runs.length - 1];
    if (last?.kind === kind) last.events.push(event);
    else runs.push({ kind, events: [event] });
  }
  return runs;
}

async function recordRun(db: Kysely<Database>, registry: string, run: { kind: EventKind; events: RegistryEvent[] }, scans: ScanRequest[]): Promise<void> {
  const withDigest = run.events.filter((e): e is RegistryEvent & { digest: string } => !!e.digest);
  switch (run.kind) {
    case 'push':
      await recordImagePushes(db, withDigest.map((e) => ({ registry, repository: e.repository, digest: e.digest, tag: e.tag, imported: e.import, at: e.at })));
      for (const e of run.events) scans.push({ registry, repository: e.repository, digest: e.digest, tag: e.tag, reason: e.import ? 'import' : 'push' });
      break;
    case 'pull':
      await recordImagePulls(db, withDigest.map((e) => ({ registry, repository: e.repository, digest: e.digest, at: e.at })));
      break;
    case 'delete':
      await recordImageDeletes(db, withDigest.map((e) => ({ registry, repository: e.repository, digest: e.digest })));
      break;
    case 'none':
      break;
  }
}

/**
 * Drops events that repeat a later identical one (action, repository, digest, tag, import),
 * keeping the later position and the latest time. What is recorded is the same: pushes and
 * pulls keep the latest time, tags are a set, and a push or delete that is repeated keeps its
 * place after anything in between, so "push, delete, push" still ends pushed.
 */
export function collapseRepeats(events: RegistryEvent[]): RegistryEvent[] {
  const last = new Map<string, { index: number; at: Date }>();
  events.forEach((event, index) => {
    const key = JSON.stringify([event.action, event.repository, event.digest ?? '', event.tag ?? '', event.import]);
    const seen = last.get(key);
    last.set(key, { index, at: seen && seen.at > event.at ? seen.at : event.at });
  });
  return [...last.values()].sort((a, b) => a.index - b.index).map(({ index, at }) => ({ ...events[index]!, at }));
}

/**
 * Queues a first scan for the registry's images that have none: when its plan is switched on
 * (what it reported while the plan was off; Defender scans what is there when a plan starts), and
 * on the poll schedule for pushes of the last hour whose scan never happened (`pushed`), a safety
 * net for a job lost between the webhook and the queue. Jobs and scans are keyed by digest, so
 * this never scans an image twice.
 */
export async function queueFirstScans(context: { store: Store; jobs: JobQueue | undefined }, registry: string, pushed?: { after: Date; before: Date }): Promise<number> {
  if (!context.jobs) return 0;
  let query = context.store.db.selectFrom('images').select(['repository', 'digest'])
    .where('registry', '=', registry).where('deleted', '=', false).where('last_scanned', 'is', null);
  if (pushed) query = query.where('last_pushed', '>=', pushed.after).where('last_pushed', '<', pushed.before);
  const images = await query.orderBy('id').execute();
  const requests = images.map((image): ScanRequest => ({ registry, repository: image.repository, digest: image.digest, reason: 'push' }));
  return queueScans({ store: context.store, jobs: context.jobs }, requests);
}

/**
 * An ECR registry connected a moment ago still holds its AWS keys, not a pull login (the renewal job
 * runs every 15 minutes): make the login now, before its first scans, so they do not fail. Best
 * effort: a refusal leaves the scans to fail and retry, and the job to say why.
 */
async function ensureEcrLogin(context: { store: Store; clock: Clock; ecrEndpoint?: string }, secretKey: string | undefined, registry: string): Promise<void> {
  const row = await context.store.db.selectFrom('registries').select('kind').where('name', '=', registry).executeTakeFirst();
  if (row?.kind !== 'ecr') return;
  // ecrEndpoint: tests' loopback ECR API.
  await renewEcrLogins({ store: context.store, clock: context.clock, secretKey, ...(context.ecrEndpoint ? { endpoint: context.ecrEndpoint } : {}) }, registry).catch(() => undefined);
}
