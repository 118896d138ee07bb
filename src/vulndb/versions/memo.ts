/**
 * Matching compares the same few thousand versions over and over: each comparator keeps what it
 * derives from a version string (parsed form, sort key), up to `max` strings, then starts afresh.
 * `compute` never returns undefined (use null for "not valid").
 */
export function memoize<T>(compute: (version: string) => T, max = 50_000): (version: string) => T {
  const cache = new Map<string, T>();
  return (version) => {
    let value = cache.get(version);
    if (value === undefined) {
      value = compute(version);
      if (cache.size >= max) cache.clear();
      cache.set(version, value);
    }
    return value;
  };
}
