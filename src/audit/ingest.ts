import type { Kysely } from 'kysely';
import type { Database } from '../store/index.js';
import { AuditDetector, type AuditThreat } from './detect.js';
import { AuditRuleEngine } from './engine.js';
import type { AuditInputError } from './event.js';
import { storeAuditEvents } from './events-store.js';
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
  /** What the batch's new events detected; the caller records them in the center. */
  threats: AuditThreat[];
}

export interface AuditIngest {
  /** Decodes, stores, detects: everything is stored when it resolves. Throws PalisadeError for an unusable body. */
  ingest(cluster: string, body: unknown): Promise<AuditIngestResult>;
  /** Persists the detection state; call after the threats are recorded, before answering. */
  flush(): Promise<void>;
}

/**
 * The webhook path: one detector (rules, store-backed first-seen state) for the process, shared
 * by all clusters (state scopes carry the cluster). Detection runs only over events stored for
 * the first time, so a re-sent batch neither duplicates events nor alerts.
 */
export async function createAuditIngest(db: Kysely<Database>, rules: RuleSet, limits: StateLimits = {}): Promise<AuditIngest> {
  const state = await StoreDetectionState.open(db, limits);
  const detector = new AuditDetector({ rules: new AuditRuleEngine(rules), state });
  // State flushes are serialised: two batches finishing together must not interleave their writes.
  let flushing: Promise<void> = Promise.resolve();
  return {
    async ingest(cluster, body) {
      const batch = decodeWebhookBody(body, cluster);
      const fresh = await storeAuditEvents(db, cluster, batch.events);
      return { events: batch.events.length, duplicates: batch.events.length - fresh.length, errors: batch.errors, threats: detector.threats(fresh) };
    },
    flush() {
      flushing = flushing.then(() => state.flush(), () => state.flush());
      return flushing;
    },
  };
}
