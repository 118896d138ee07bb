import semver from 'semver';
import { compareNatural } from './natural.js';

/**
 * SemVer 2.0 order (npm, crates.io, Hex, Pub) through the `semver` package; build metadata is
 * ignored as the spec says. Strings semver cannot parse even loosely fall back to natural order.
 */
export function compareSemver(a: string, b: string): number {
  if (a === b) return 0;
  const x = semver.parse(a, { loose: true });
  const y = semver.parse(b, { loose: true });
  if (x && y) return x.compare(y);
  return compareNatural(a, b);
}
