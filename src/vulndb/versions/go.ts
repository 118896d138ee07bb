import { memoize } from './memo.js';

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

interface GoSemver {
  major: string;
  minor: string;
  patch: string;
  /** with its leading `-`, or '' */
  prerelease: string;
}

const isDigitCode = (c: number): boolean => c >= 48 && c <= 57;
const isIdentChar = (c: string): boolean => /[0-9A-Za-z-]/.test(c);

/** golang.org/x/mod/semver parseInt: digits, no leading zero. */
function parseNumber(v: string, at: number): number {
  if (at >= v.length || !isDigitCode(v.charCodeAt(at))) return -1;
  let i = at + 1;
  while (i < v.length && isDigitCode(v.charCodeAt(i))) i++;
  if (v[at] === '0' && i !== at + 1) return -1;
  return i;
}

/** A purely numeric identifier with a leading zero. */
function isBadNum(id: string): boolean {
  return /^[0-9]+$/.test(id) && id.length > 1 && id[0] === '0';
}

/** golang.org/x/mod/semver parse, on a version that already starts with `v`. */
function parseGoSemver(v: string): GoSemver | undefined {
  if (v[0] !== 'v') return undefined;
  let end = parseNumber(v, 1);
  if (end < 0) return undefined;
  const major = v.slice(1, end);
  if (end === v.length) return { major, minor: '0', patch: '0', prerelease: '' };
  if (v[end] !== '.') return undefined;
  let start = end + 1;
  end = parseNumber(v, start);
  if (end < 0) return undefined;
  const minor = v.slice(start, end);
  if (end === v.length) return { major, minor, patch: '0', prerelease: '' };
  if (v[end] !== '.') return undefined;
  start = end + 1;
  end = parseNumber(v, start);
  if (end < 0) return undefined;
  const patch = v.slice(start, end);
  let rest = v.slice(end);
  let prerelease = '';
  if (rest[0] === '-') {
    const plus = rest.indexOf('+');
    prerelease = plus >= 0 ? rest.slice(0, plus) : rest;
    const ids = prerelease.slice(1).split('.');
    if (ids.some((id) => id === '' || isBadNum(id) || ![...id].every(isIdentChar))) return undefined;
    rest = rest.slice(prerelease.length);
  }
  if (rest[0] === '+') {
    const ids = rest.slice(1).split('.');
    if (ids.some((id) => id === '' || ![...id].every(isIdentChar))) return undefined;
    rest = '';
  }
  return rest === '' ? { major, minor, patch, prerelease } : undefined;
}

function compareInt(x: string, y: string): number {
  if (x === y) return 0;
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : 1;
}

function comparePrerelease(x: string, y: string): number {
  if (x === y) return 0;
  if (x === '') return 1;
  if (y === '') return -1;
  const xs = x.slice(1).split('.');
  const ys = y.slice(1).split('.');
  for (let i = 0; i < xs.length && i < ys.length; i++) {
    const dx = xs[i]!;
    const dy = ys[i]!;
    if (dx === dy) continue;
    const ix = /^[0-9]+$/.test(dx);
    const iy = /^[0-9]+$/.test(dy);
    if (ix !== iy) return ix ? -1 : 1;
    if (ix && dx.length !== dy.length) return dx.length < dy.length ? -1 : 1;
    return dx < dy ? -1 : 1;
  }
  return xs.length < ys.length ? -1 : 1;
}

/** A version's parsed form (null: not valid), kept: matching compares the same versions over and over. */
const parseCached = memoize((version: string): GoSemver | null => parseGoSemver(`v${normalizeGoVersion(version)}`) ?? null);

/**
 * -1, 0 or 1 as golang.org/x/mod/semver.Compare orders them, the `v` being optional (OSV writes Go
 * versions without it) and toolchain names (`go1.21rc2`) read as their SemVer. As there, `v1` and
 * `v1.2` are shorthands for `v1.0.0` and `v1.2.0`, build metadata is ignored, an invalid version
 * sorts below every valid one and all invalid versions are equal.
 */
export function compareGoVersions(a: string, b: string): number {
  if (a === b) return 0;
  const x = parseCached(a);
  const y = parseCached(b);
  if (!x || !y) return x === y ? 0 : x ? 1 : -1;
  return compareInt(x.major, y.major) || compareInt(x.minor, y.minor) || compareInt(x.patch, y.patch) || comparePrerelease(x.prerelease, y.prerelease);
}
