/**
 * A bounded map whose entries expire: least recently used out first once `max` is reached, each
 * entry kept for the time-to-live its setter chose. Time is monotonic (`performance.now()` by
 * default), never the wall clock, so a clock step neither empties nor freezes it.
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { value: V; expires: number }>();

  constructor(private readonly max: number, private readonly now: () => number = () => performance.now()) {}

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    // Re-inserting moves the key to the end: Map keeps insertion order, so the first key is the least recently used.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: K, value: V, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expires: this.now() + ttlMs });
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as K);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * One promise per key while it runs: concurrent admissions of the same image wait for one tag
 * lookup, one store read, one scan. Bounded by `max` keys in flight; beyond it `run` refuses (undefined).
 */
export class SingleFlight<K, V> {
  private readonly running = new Map<K, Promise<V>>();

  constructor(private readonly max: number) {}

  run(key: K, work: () => Promise<V>): Promise<V> | undefined {
    const existing = this.running.get(key);
    if (existing) return existing;
    if (this.running.size >= this.max) return undefined;
    const promise = work().finally(() => this.running.delete(key));
    this.running.set(key, promise);
    return promise;
  }

  get size(): number {
    return this.running.size;
  }
}
