import type { Kysely } from 'kysely';
import type { Database } from '../store/index.js';
import { touchCluster } from '../store/nodes.js';
import { AuditDetector, type AuditThreat, type Judged } from './detect.js';
import { AuditRuleEngine } from './engine.js';
import type { AuditInputError } from './event.js';
import { storeAuditEvents, unseenAuditEvents } from './events-store.js';
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
  /** What the batch's new events detected; the caller records them in the center, then calls commit. */
  threats: AuditThreat[];
  /** Stores the batch's new events, and schedules a write of the detection state. */
  commit(): Promise<void>;
}

export interface AuditIngest {
  /** Decodes and detects over the events not stored before. Throws PalisadeError for an unusable body. */
  ingest(cluster: string, body: unknown): Promise<AuditIngestResult>;
  /** Resolves when the detection state written so far is stored (tests, shutdown). */
  flushState(): Promise<void>;
}

/**
 * The webhook path: one detector (rules, store-backed first-seen state) for the process, shared
 * by all clusters (state scopes carry the cluster). Order, for at-least-once alerts:
 * 1. find the batch's events not stored yet (a re-sent batch is skipped: no duplicate alerts),
 * 2. detect over them, 3. the caller records the threats, 4. commit stores the events and state.
 * A failure before 4 makes the apiserver send the batch again, and it is detected again: an alert
 * may be counted twice, never lost.
 */
export async function createAuditIngest(db: Kysely<Database>, rules: RuleSet, limits: StateLimits = {}, onStateError?: (error: unknown) => void): Promise<AuditIngest> {
  const state = await StoreDetectionState.open(db, limits);
  const detector = new AuditDetector({ rules: new AuditRuleEngine(rules), state });
  // State writes run one at a time in the background, coalesced: under load one write carries the
  // changes of many batches instead of each batch waiting for its own (measured: 18 ms a batch).
  // A crash loses at most the changes since the last write, which only delays a first-seen alert.
  let running: Promise<void> | undefined;
  let again = false;
  const scheduleFlush = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await state.flush();
        } catch (error) {
          onStateError?.(error);
        }
      } while (again);
      running = undefined;
    })();
    return running;
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
  return {
    async ingest(cluster, body) {
      const batch = decodeWebhookBody(body, cluster);
      const fresh = await unseenAuditEvents(db, cluster, batch.events);
      const judged: Judged = new Map();
      return {
        events: batch.events.length,
        duplicates: batch.events.length - fresh.length,
        errors: batch.errors,
        threats: detector.threats(fresh, judged),
        async commit() {
          await storeAuditEvents(db, cluster, fresh);
          // Only now: a later stage of the same request (exec's ResponseComplete) does not alert again.
          detector.remember(judged);
          await touch(cluster);
          void scheduleFlush();
        },
      };
    },
    async flushState() {
      while (running) await running;
      await scheduleFlush();
    },
  };
}
