import { PalisadeError } from '../../core/index.js';
import { compareApkVersions } from './apk.js';
import { compareApk2Versions } from './apk2.js';
import { compareComposerVersions } from './composer.js';
import { compareDpkgVersions } from './dpkg.js';
import { compareGoVersions } from './go.js';
import { compareMavenVersions } from './maven.js';
import { compareNuGetVersions } from './nuget.js';
import { comparePep440 } from './pep440.js';
import { compareRpmVersions } from './rpm.js';
import { compareRubyGemsVersions } from './rubygems.js';
import { compareSemver } from './semver.js';

export * from './apk.js';
export * from './apk2.js';
export * from './composer.js';
export * from './dpkg.js';
export * from './go.js';
export * from './maven.js';
export * from './nuget.js';
export * from './pep440.js';
export * from './rpm.js';
export * from './rubygems.js';
export * from './semver.js';
export { compareNatural } from './natural.js';

export type VersionScheme = 'dpkg' | 'apk' | 'rpm' | 'semver' | 'go' | 'pep440' | 'maven' | 'rubygems' | 'nuget' | 'composer';
export type VersionComparator = (a: string, b: string) => number;

const COMPARATORS: Record<VersionScheme, VersionComparator> = {
  dpkg: compareDpkgVersions,
  apk: compareApkVersions,
  rpm: compareRpmVersions,
  semver: compareSemver,
  go: compareGoVersions,
  pep440: comparePep440,
  maven: compareMavenVersions,
  rubygems: compareRubyGemsVersions,
  nuget: compareNuGetVersions,
  composer: compareComposerVersions,
};

/** OSV ecosystem (without `:release`) → the version grammar its packages use. */
const SCHEMES: Record<string, VersionScheme> = {
  Debian: 'dpkg',
  Ubuntu: 'dpkg',
  Alpine: 'apk',
  Wolfi: 'apk',
  Chainguard: 'apk',
  'Alpaquita': 'apk',
  'BellSoft Hardened Containers': 'apk',
  'Red Hat': 'rpm',
  AlmaLinux: 'rpm',
  'Rocky Linux': 'rpm',
  SUSE: 'rpm',
  openSUSE: 'rpm',
  'Azure Linux': 'rpm',
  Mariner: 'rpm',
  'Amazon Linux': 'rpm',
  openEuler: 'rpm',
  'Photon OS': 'rpm',
  npm: 'semver',
  'crates.io': 'semver',
  Hex: 'semver',
  Pub: 'semver',
  Go: 'go',
  PyPI: 'pep440',
  Maven: 'maven',
  RubyGems: 'rubygems',
  NuGet: 'nuget',
  Packagist: 'composer',
};

/** `Debian:12` → `Debian`; `Alpine:v3.19` → `Alpine`. */
export function baseEcosystem(ecosystem: string): string {
  const colon = ecosystem.indexOf(':');
  return colon >= 0 ? ecosystem.slice(0, colon) : ecosystem;
}

export function versionScheme(ecosystem: string): VersionScheme | undefined {
  return SCHEMES[baseEcosystem(ecosystem)];
}

export function isKnownEcosystem(ecosystem: string): boolean {
  return versionScheme(ecosystem) !== undefined;
}

/**
 * Alpine releases before v3.23 ship apk-tools 2.x, whose order differs from 3.x on components with
 * leading zeros (`8.2.0` vs `8.2.001`) and on `-r` without a number; advisories of such a release
 * (`Alpine:v3.19`) are compared as their own apk compares. Edge, v3.23 on and the other apk
 * distributions use apk-tools 3's order.
 */
function usesApkTools2(ecosystem: string): boolean {
  const m = /^Alpine:v(\d+)\.(\d+)$/.exec(ecosystem);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major < 3 || (major === 3 && minor < 23);
}

const comparatorCache = new Map<string, VersionComparator>();

export function comparatorFor(ecosystem: string): VersionComparator {
  const cached = comparatorCache.get(ecosystem);
  if (cached) return cached;
  const scheme = versionScheme(ecosystem);
  if (!scheme) {
    throw new PalisadeError('vulndb.ecosystem.unknown', `no version ordering is known for ecosystem '${ecosystem}'`, {
      field: 'ecosystem',
      hint: `known ecosystems: ${Object.keys(SCHEMES).join(', ')}`,
    });
  }
  const comparator = scheme === 'apk' && usesApkTools2(ecosystem) ? compareApk2Versions : COMPARATORS[scheme];
  if (comparatorCache.size < 1000) comparatorCache.set(ecosystem, comparator);
  return comparator;
}

/** -1, 0 or 1: how `a` orders against `b` in the ecosystem's own version grammar. */
export function compareVersions(ecosystem: string, a: string, b: string): number {
  return comparatorFor(ecosystem)(a, b);
}
