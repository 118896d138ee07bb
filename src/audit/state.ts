/**
 * State for stateful detections (first-seen values per scope). Detection runs synchronously on the
 * hot path, so every implementation answers from memory; the store-backed one (state-store.ts)
 * loads its memory at start and writes what changed in one transaction per flush, which the
 * webhook does before it answers the apiserver.
 *
 * Memory is bounded two ways: at most `maxScopes` scopes (least recently used ones are dropped and
 * relearn, which only delays alerts), and at most `maxValuesPerScope` values per scope; a scope
 * that reaches its bound is "saturated" and stops alerting, because a scope with that many distinct
 * values has no notion of rare.
 */
export interface ScopeState {
  firstSeen: number;
  events: number;
  values: Map<string, number>;
  saturated: boolean;
}

export interface Observation {
  /** The value had not been seen in this scope before (and the scope is not saturated). */
  isNew: boolean;
  /** When the scope was first seen, and how many events it had seen before this one. */
  scopeFirstSeen: number;
  scopeEvents: number;
}

export interface DetectionState {
  observe(scope: string, value: string, at: number): Observation;
  /** Persists pending changes; a no-op in memory. */
  flush(): Promise<void>;
}

export interface StateLimits {
  maxScopes?: number;
  maxValuesPerScope?: number;
}

export class MemoryDetectionState implements DetectionState {
  protected readonly scopes = new Map<string, ScopeState>();
  readonly maxScopes: number;
  readonly maxValuesPerScope: number;
  /** Scopes changed since the last flush, for the store-backed subclass. */
  protected readonly dirtyScopes = new Set<string>();
  protected readonly dirtyValues: Array<{ scope: string; value: string; at: number }> = [];
  protected readonly droppedScopes = new Set<string>();

  constructor(limits: StateLimits = {}) {
    this.maxScopes = limits.maxScopes ?? 50_000;
    this.maxValuesPerScope = limits.maxValuesPerScope ?? 500;
  }

  get scopeCount(): number {
    return this.scopes.size;
  }

  scope(key: string): ScopeState | undefined {
    return this.scopes.get(key);
  }

  observe(scope: string, value: string, at: number): Observation {
    let s = this.scopes.get(scope);
    if (s === undefined) {
      s = { firstSeen: at, events: 0, values: new Map(), saturated: false };
      this.evictIfFull();
    } else {
      // Re-insert to keep Map order = least recently used first.
      this.scopes.delete(scope);
    }
    this.scopes.set(scope, s);
    const observation: Observation = { isNew: false, scopeFirstSeen: s.firstSeen, scopeEvents: s.events };
    s.events++;
    this.dirtyScopes.add(scope);
    if (!s.values.has(value)) {
      if (s.values.size >= this.maxValuesPerScope) {
        s.saturated = true;
      } else {
        s.values.set(value, at);
        this.dirtyValues.push({ scope, value, at });
        observation.isNew = !s.saturated;
      }
    }
    return observation;
  }

  /** Puts a persisted scope back (store-backed state at start). */
  restore(scope: string, state: ScopeState): void {
    this.evictIfFull();
    this.scopes.set(scope, state);
  }

  private evictIfFull(): void {
    while (this.scopes.size >= this.maxScopes) {
      const oldest = this.scopes.keys().next().value as string;
      this.scopes.delete(oldest);
      this.dirtyScopes.delete(oldest);
      this.droppedScopes.add(oldest);
    }
  }

  /** Hands over (and forgets) what changed since the last call, so changes made while a flush awaits are kept for the next one. */
  protected takeChanges(): { scopes: string[]; values: Array<{ scope: string; value: string; at: number }>; dropped: string[] } {
    const changes = { scopes: [...this.dirtyScopes], values: this.dirtyValues.splice(0), dropped: [...this.droppedScopes] };
    this.dirtyScopes.clear();
    this.droppedScopes.clear();
    return changes;
  }

  async flush(): Promise<void> {
    this.takeChanges();
  }
}
