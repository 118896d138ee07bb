import type { Kysely } from 'kysely';
import { touchCluster, type Database } from '../store/index.js';
import { AuditDetector, type AuditThreat, type Judged } from './detect.js';
import { AuditRuleEngine } from './engine.js';
import type { AuditInputError } from './event.js';
import { storeAuditEvents, unseenAuditEvents } from './events-store.js';

/** How often the detection state is written while batches arrive. */
const STATE_WRITE_INTERVAL_MS = 1000;
import type { RuleSet } from './rules.js';
import { decodeWebhookBody } from './sources/webhook.js';
import type { StateLimits } from './state.js';
import { StoreDetectionState } from './state-store.js';

export interface AuditIngestResult {
  /** Valid events in the batch. */
  events: number;
  /** Of those, already stored before (a re-sent batch). */
  duplicates: number;
  errors: AuditInputError[];
  /** What the batch's new events detected; the caller records them in the center, then stores the events. */
  threats: AuditThreat[];
  /** Stores the batch's new events in the caller's transaction: the one that records its threats (center intake). */
  storeEvents(tx: Kysely<Database>): Promise<void>;
  /** Once that transaction committed: later stages of the same requests do not alert again; schedules a state write. */
  committed(): Promise<void>;
  /** storeEvents on the ingest's own database, then committed (callers that record threats apart). */
  commit(): Promise<void>;
}

/** A decoded batch whose stored events are known, not yet detected on. */
export interface PreparedAuditBatch {
  /** Detects over the events not stored before (changes the detection state: call only for a batch to keep). */
  detect(): AuditIngestResult;
}

export interface AuditIngest {
  /** Decodes and detects over the events not stored before. Throws PalisadeError for an unusable body. */
  ingest(cluster: string, body: unknown): Promise<AuditIngestResult>;
  /**
   * The first half of ingest: decodes and finds the events stored before, without detecting, so
   * a caller can check something else meanwhile (the cluster's plan) and drop the batch untouched.
   */
  prepare(cluster: string, body: unknown): Promise<PreparedAuditBatch>;
  /** Resolves when the detection state written so far is stored (tests, shutdown). */
  flushState(): Promise<void>;
}

/**
 * The webhook path: one detector (rules, store-backed first-seen state) for the process, shared
 * by all clusters (state scopes carry the cluster). Order, for at-least-once alerts:
 * 1. find the batch's events not stored yet (a re-sent batch is skipped: no duplicate alerts),
 * 2. detect over them, 3. the caller records the threats and stores the events in one transaction
 * (storeEvents), 4. committed() remembers what was judged and schedules the state write.
 * A failure before 3 commits makes the apiserver send the batch again, and it is detected again:
 * never lost, and with 3 in one transaction not counted twice either.
 */
export async function createAuditIngest(db: Kysely<Database>, rules: RuleSet, limits: StateLimits = {}, onStateError?: (error: unknown) => void): Promise<AuditIngest> {
  const state = await StoreDetectionState.open(db, limits);
  const detector = new AuditDetector({ rules: new AuditRuleEngine(rules), state });
  // State writes run one at a time in the background, coalesced and at most one a second: under
  // load one write carries the changes of many batches instead of each batch waiting for its own
  // (measured: 18 ms a batch), and the writes leave the database to the events. A crash loses at
  // most the changes of the last second, which only delays a first-seen alert.
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastWrite = 0;
  const write = (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    running = (async () => {
      lastWrite = Date.now();
      try {
        await state.flush();
      } catch (error) {
        onStateError?.(error);
      }
      running = undefined;
    })();
    return running;
  };
  const scheduleFlush = (): void => {
    if (timer) return;
    const wait = running ? STATE_WRITE_INTERVAL_MS : lastWrite + STATE_WRITE_INTERVAL_MS - Date.now();
    if (wait <= 0) {
      void write();
      return;
    }
    timer = setTimeout(() => {
      timer = undefined;
      // Still writing after a whole interval: the write that follows it carries these changes.
      if (running) void running.then(() => scheduleFlush());
      else void write();
    }, wait);
    timer.unref();
  };
  // The cluster's "last event" is written at most every 10 s per cluster: under load every batch
  // would otherwise queue on that one row.
  const touched = new Map<string, number>();
  const touch = async (cluster: string): Promise<void> => {
    const now = Date.now();
    if (now - (touched.get(cluster) ?? 0) < 10_000) return;
    touched.set(cluster, now);
    await touchCluster(db, cluster, new Date(now));
  };
  const prepare = async (cluster: string, body: unknown): Promise<PreparedAuditBatch> => {
    const batch = decodeWebhookBody(body, cluster);
    const fresh = await unseenAuditEvents(db, cluster, batch.events);
    return {
      detect() {
        const judged: Judged = new Map();
        const result: AuditIngestResult = {
          events: batch.events.length,
          duplicates: batch.events.length - fresh.length,
          errors: batch.errors,
          threats: detector.threats(fresh, judged),
          async storeEvents(tx) {
            await storeAuditEvents(tx, cluster, fresh);
          },
          async committed() {
            // Only now: a later stage of the same request (exec's ResponseComplete) does not alert again.
            detector.remember(judged);
            await touch(cluster);
            scheduleFlush();
          },
          async commit() {
            await result.storeEvents(db);
            await result.committed();
          },
        };
        return result;
      },
    };
  };
  return {
    prepare,
    async ingest(cluster, body) {
      return (await prepare(cluster, body)).detect();
    },
    async flushState() {
      while (running) await running;
      await write();
    },
  };
}
