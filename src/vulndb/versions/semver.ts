import type semverLibraryType from 'semver';
import { lazyModule } from '../../core/index.js';
import { memoize } from './memo.js';
import { compareNatural } from './natural.js';

/**
 * SemVer 2.0 order (npm, crates.io, Hex, Pub) through the `semver` package; build metadata is
 * ignored as the spec says. Strings semver cannot parse even loosely fall back to natural order.
 */
/** A version's parsed form (null: not SemVer), kept: matching compares the same versions over and over. */
const parse = memoize((version: string): semverLibraryType.SemVer | null => semverLibrary().parse(version, { loose: true }));

/** Loaded when a SemVer version is first compared: a scan of an image without npm, cargo, hex or pub packages never needs it (~40 ms). */
export const semverLibrary = lazyModule<typeof semverLibraryType>('semver');

export function compareSemver(a: string, b: string): number {
  if (a === b) return 0;
  const x = parse(a);
  const y = parse(b);
  if (x && y) return x.compare(y);
  return compareNatural(a, b);
}
