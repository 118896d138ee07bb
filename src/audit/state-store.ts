import type { ColumnType, Kysely } from 'kysely';
import { systemClock, type Clock } from '../core/index.js';
import type { Database } from '../store/index.js';
import { withoutNul } from './events-store.js';
import { MemoryDetectionState, type ScopeState, type StateLimits } from './state.js';

type Millis = ColumnType<number, number | bigint, number | bigint>;

export interface AuditStateScopeTable {
  scope: string;
  first_seen: Millis;
  events: Millis;
  saturated: boolean;
  updated_at: Millis;
}

export interface AuditStateValueTable {
  scope: string;
  value: string;
  first_seen: Millis;
}

declare module '../store/schema.js' {
  interface Database {
    audit_state_scopes: AuditStateScopeTable;
    audit_state_values: AuditStateValueTable;
  }
}

const CHUNK = 500;

/**
 * Detection state that survives restarts: memory is loaded from the store at open (the most
 * recently used scopes, up to the memory bound) and `flush()` writes what changed since the last
 * flush in one transaction. Scopes evicted from memory are deleted from the store too, so the
 * store holds the same bounded state as memory.
 */
export class StoreDetectionState extends MemoryDetectionState {
  private constructor(private readonly db: Kysely<Database>, limits: StateLimits, private readonly clock: Clock) {
    super(limits);
  }

  /** `clock` stamps each written scope's `updated_at`, by which a restart keeps the most recent. */
  static async open(db: Kysely<Database>, limits: StateLimits = {}, clock: Clock = systemClock): Promise<StoreDetectionState> {
    const state = new StoreDetectionState(db, limits, clock);
    const scopes = await db.selectFrom('audit_state_scopes').selectAll()
      .orderBy('updated_at', 'asc').orderBy('scope', 'asc').execute();
    const keep = scopes.slice(-state.maxScopes);
    const byScope = new Map<string, ScopeState>();
    for (const row of keep) {
      byScope.set(row.scope, { firstSeen: Number(row.first_seen), events: Number(row.events), values: new Map(), saturated: row.saturated });
    }
    const values = await db.selectFrom('audit_state_values').selectAll().execute();
    for (const row of values) byScope.get(row.scope)?.values.set(row.value, Number(row.first_seen));
    for (const [scope, s] of byScope) state.restore(scope, s);
    return state;
  }

  override async flush(): Promise<void> {
    const changes = this.takeChanges();
    if (changes.scopes.length === 0 && changes.values.length === 0 && changes.dropped.length === 0) return;
    const now = this.clock.now().getTime();
    const live = new Set(changes.scopes.filter((key) => this.scope(key)));
    const scopes = [...live].map((key) => {
      const s = this.scope(key)!;
      return { scope: withoutNul(key), first_seen: s.firstSeen, events: s.events, saturated: s.saturated, updated_at: now };
    });
    const values = changes.values.filter((v) => live.has(v.scope)).map((v) => ({ scope: withoutNul(v.scope), value: withoutNul(v.value), first_seen: v.at }));
    const dropped = changes.dropped.filter((key) => !this.scope(key));
    try {
      await this.db.transaction().execute(async (tx) => {
        for (let i = 0; i < dropped.length; i += CHUNK) {
          await tx.deleteFrom('audit_state_scopes').where('scope', 'in', dropped.slice(i, i + CHUNK).map(withoutNul)).execute();
        }
        for (let i = 0; i < scopes.length; i += CHUNK) {
          await tx.insertInto('audit_state_scopes').values(scopes.slice(i, i + CHUNK))
            .onConflict((oc) => oc.column('scope').doUpdateSet((eb) => ({
              events: eb.ref('excluded.events'), saturated: eb.ref('excluded.saturated'), updated_at: eb.ref('excluded.updated_at'),
            }))).execute();
        }
        for (let i = 0; i < values.length; i += CHUNK) {
          await tx.insertInto('audit_state_values').values(values.slice(i, i + CHUNK))
            .onConflict((oc) => oc.columns(['scope', 'value']).doNothing()).execute();
        }
      });
    } catch (error) {
      // Keep the changes for the next flush.
      for (const key of live) this.dirtyScopes.add(key);
      this.dirtyValues.push(...changes.values);
      for (const key of dropped) this.droppedScopes.add(key);
      throw error;
    }
  }
}
