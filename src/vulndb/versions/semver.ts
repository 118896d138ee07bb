import type semverLibraryType from 'semver';
import { lazyModule } from '../../core/index.js';
import { memoize } from './memo.js';
import { compareNatural } from './natural.js';

/** Loaded when a SemVer version is first read: a scan of an image without npm, cargo, hex or pub packages never needs it (~40 ms). */
const semverLibrary = lazyModule<typeof semverLibraryType>('semver');

/** A version's parsed form (null: not SemVer), kept: matching compares the same versions over and over. */
const parse = memoize((version: string): semverLibraryType.SemVer | null => semverLibrary().parse(version, { loose: true }));

/** Strict SemVer 2.0 (what OSV's SEMVER ranges hold). */
export function isStrictSemver(version: string): boolean {
  return semverLibrary().valid(version) !== null;
}

/**
 * SemVer 2.0 order (npm, crates.io, Hex, Pub) through the `semver` package; build metadata is
 * ignored as the spec says. Strings semver cannot parse even loosely fall back to natural order.
 */
export function compareSemver(a: string, b: string): number {
  if (a === b) return 0;
  const x = parse(a);
  const y = parse(b);
  if (x && y) return x.compare(y);
  return compareNatural(a, b);
}
