import semver from 'semver';
import { compareNatural } from './natural.js';

/**
 * SemVer 2.0 order (npm, crates.io, Hex, Pub) through the `semver` package; build metadata is
 * ignored as the spec says. Strings semver cannot parse even loosely fall back to natural order.
 */
/** Matching compares the same versions over and over: keep their parsed forms (null: not SemVer). */
const parsed = new Map<string, semver.SemVer | null>();

function parse(version: string): semver.SemVer | null {
  let v = parsed.get(version);
  if (v === undefined) {
    v = semver.parse(version, { loose: true });
    if (parsed.size >= 50_000) parsed.clear();
    parsed.set(version, v);
  }
  return v;
}

export function compareSemver(a: string, b: string): number {
  if (a === b) return 0;
  const x = parse(a);
  const y = parse(b);
  if (x && y) return x.compare(y);
  return compareNatural(a, b);
}
