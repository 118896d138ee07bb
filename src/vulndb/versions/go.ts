import { compareSemver } from './semver.js';

/**
 * Go module versions are SemVer with a `v` prefix (`v1.2.3`, `v0.0.0-20210101000000-abcdef123456`
 * pseudo-versions, `+incompatible`); pseudo-versions are pre-releases by construction, so SemVer
 * order is Go's order. The toolchain (`stdlib` in OSV) is spelled `go1.21.3` or `go1.21rc2` in
 * binaries and `1.21.3` / `1.21.0-rc.2` in OSV.
 */
export function normalizeGoVersion(version: string): string {
  let v = version.trim();
  if (v.startsWith('go')) {
    v = v.slice(2);
    const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(rc|beta)(\d+))?$/.exec(v);
    if (m) {
      const core = `${m[1]}.${m[2] ?? '0'}.${m[3] ?? '0'}`;
      return m[4] ? `${core}-${m[4]}.${m[5]}` : core;
    }
    return v;
  }
  if (v.startsWith('v')) v = v.slice(1);
  return v;
}

export function compareGoVersions(a: string, b: string): number {
  if (a === b) return 0;
  return compareSemver(normalizeGoVersion(a), normalizeGoVersion(b));
}
