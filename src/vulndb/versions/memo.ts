/**
 * A map that keeps up to `max` entries, then starts afresh: memory stays bounded with no
 * bookkeeping per hit, which suits caches that are hit far more often than they fill.
 * `compute` never returns undefined (use null for "nothing").
 */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly max: number) {}

  get(key: K, compute: (key: K) => V): V {
    let value = this.entries.get(key);
    if (value === undefined) {
      value = compute(key);
      if (this.entries.size >= this.max) this.entries.clear();
      this.entries.set(key, value);
    }
    return value;
  }
}

/**
 * Matching compares the same few thousand versions over and over: each comparator keeps what it
 * derives from a version string (parsed form, sort key), up to `max` strings, then starts afresh.
 * `compute` never returns undefined (use null for "not valid").
 */
export function memoize<T>(compute: (version: string) => T, max = 50_000): (version: string) => T {
  const cache = new BoundedCache<string, T>(max);
  return (version) => cache.get(version, compute);
}
