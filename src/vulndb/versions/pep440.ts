import { memoize } from './memo.js';

/**
 * PyPI versions ordered as pypa/packaging does: PEP 440 versions by packaging's `Version` key
 * (epoch, release without trailing zeros, pre/post/dev ranks, local segments), and strings PEP 440
 * rejects as packaging ≤ 21.3's `LegacyVersion` did (setuptools' old parse_version key, always
 * below every PEP 440 version). Ported by hand: numbers stay digit strings, so `2024010112345678901`
 * orders exactly as Python's unbounded ints do. Checked against packaging's own test vectors and,
 * where python3 has `packaging`, against packaging itself.
 */

/** packaging's VERSION_PATTERN (the pre-3.11 spelling without possessive quantifiers), anchored, whitespace allowed around. */
const VERSION_RE = new RegExp(
  '^\\s*v?' +
    '(?:(?:([0-9]+)!)?' + // epoch
    '([0-9]+(?:\\.[0-9]+)*)' + // release
    '(?:[._-]?(alpha|a|beta|b|preview|pre|c|rc)[._-]?([0-9]+)?)?' + // pre
    '(?:-([0-9]+)|[._-]?(post|rev|r)[._-]?([0-9]+)?)?' + // post
    '(?:[._-]?(dev)[._-]?([0-9]+)?)?' + // dev
    ')' +
    '(?:\\+([a-z0-9]+(?:[._-][a-z0-9]+)*))?' + // local
    '\\s*$',
  'i',
);

/** packaging's pre-release ranks; a dev-only release sorts below every pre-release, a final one above. */
const PRE_RANK: Record<string, number> = { a: 0, alpha: 0, b: 1, beta: 1, c: 2, rc: 2, pre: 2, preview: 2 };
const PRE_RANK_DEV_ONLY = -1;
const PRE_RANK_STABLE = 3;

interface ParsedPep440 {
  epoch: string;
  /** leading zeros removed, trailing zero parts removed */
  release: string[];
  preRank: number;
  preN: string;
  postRank: number;
  postN: string;
  devRank: number;
  devN: string;
  /** undefined: no local part (sorts before any local part) */
  local: Array<string | { n: string }> | undefined;
}

function stripZeros(digits: string): string {
  let i = 0;
  while (i < digits.length - 1 && digits.charCodeAt(i) === 48) i++;
  return i === 0 ? digits : digits.slice(i);
}

function parsePep440(version: string): ParsedPep440 | undefined {
  const m = VERSION_RE.exec(version);
  if (!m) return undefined;
  const [, epoch, release, preL, preN, postN1, postL, postN2, devL, devN, local] = m;
  const parts = release!.split('.').map(stripZeros);
  let end = parts.length;
  while (end > 0 && parts[end - 1] === '0') end--;
  const hasPre = preL !== undefined;
  const hasPost = postN1 !== undefined || postL !== undefined;
  const hasDev = devL !== undefined;
  return {
    epoch: stripZeros(epoch ?? '0'),
    release: parts.slice(0, end),
    preRank: hasPre ? PRE_RANK[preL.toLowerCase()]! : hasDev && !hasPost ? PRE_RANK_DEV_ONLY : PRE_RANK_STABLE,
    preN: stripZeros(preN ?? '0'),
    postRank: hasPost ? 1 : 0,
    postN: stripZeros(postN1 ?? postN2 ?? '0'),
    devRank: hasDev ? 0 : 1,
    devN: stripZeros(devN ?? '0'),
    local: local === undefined ? undefined : local.split(/[._-]/).map((p) => (/^[0-9]+$/.test(p) ? { n: stripZeros(p) } : p.toLowerCase())),
  };
}

/** Digit strings without leading zeros: longer is larger, then bytewise. */
function compareStripped(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareRank(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareParsed(x: ParsedPep440, y: ParsedPep440): number {
  let r = compareStripped(x.epoch, y.epoch);
  if (r) return r;
  const n = Math.min(x.release.length, y.release.length);
  for (let i = 0; i < n; i++) {
    r = compareStripped(x.release[i]!, y.release[i]!);
    if (r) return r;
  }
  if (x.release.length !== y.release.length) return x.release.length < y.release.length ? -1 : 1;
  r =
    compareRank(x.preRank, y.preRank) ||
    compareStripped(x.preN, y.preN) ||
    compareRank(x.postRank, y.postRank) ||
    compareStripped(x.postN, y.postN) ||
    compareRank(x.devRank, y.devRank) ||
    compareStripped(x.devN, y.devN);
  if (r) return r;
  return compareLocal(x.local, y.local);
}

/** Local segments: none < some; strings below numbers; strings bytewise, numbers numerically; a prefix first. */
function compareLocal(a: ParsedPep440['local'], b: ParsedPep440['local']): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (typeof x === 'string' && typeof y === 'string') {
      if (x !== y) return x < y ? -1 : 1;
    } else if (typeof x === 'string' || typeof y === 'string') {
      return typeof x === 'string' ? -1 : 1;
    } else {
      const r = compareStripped(x.n, y.n);
      if (r) return r;
    }
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** packaging 21.3's _legacy_cmpkey parts: setuptools' pre-PEP 440 parse_version. */
const LEGACY_REPLACEMENTS: Record<string, string> = { pre: 'c', preview: 'c', '-': 'final-', rc: 'c', dev: '@' };

function legacyKey(version: string): string[] {
  const parts: string[] = [];
  const push = (part: string): void => {
    if (part.startsWith('*')) {
      // drop "-" before a pre-release tag, and trailing zeros of each numeric series
      if (part < '*final') while (parts[parts.length - 1] === '*final-') parts.pop();
      while (parts[parts.length - 1] === '00000000') parts.pop();
    }
    parts.push(part);
  };
  for (const raw of version.toLowerCase().split(/(\d+|[a-z]+|\.|-)/)) {
    const part = LEGACY_REPLACEMENTS[raw] ?? raw;
    if (part === '' || part === '.') continue;
    push(part.charCodeAt(0) >= 48 && part.charCodeAt(0) <= 57 ? part.padStart(8, '0') : `*${part}`);
  }
  push('*final');
  return parts;
}

/** Python's tuple-of-str order (code point order; strings here are almost always ASCII). */
function compareLegacy(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

type Key = { pep440: ParsedPep440 } | { legacy: string[] };

/** A version's parsed form, kept: matching compares the same versions over and over. */
const keyOf = memoize((version: string): Key => {
  const parsed = parsePep440(version);
  return parsed ? { pep440: parsed } : { legacy: legacyKey(version) };
});

/** Whether packaging's `Version` accepts the string (leading/trailing whitespace allowed, as there). */
export function isValidPep440(version: string): boolean {
  return 'pep440' in keyOf(version);
}

/** -1, 0 or 1 as packaging orders `parse(a)` and `parse(b)` (legacy strings as packaging ≤ 21.3 did). */
export function comparePep440(a: string, b: string): number {
  if (a === b) return 0;
  const x = keyOf(a);
  const y = keyOf(b);
  if ('pep440' in x) return 'pep440' in y ? compareParsed(x.pep440, y.pep440) : 1;
  return 'pep440' in y ? -1 : compareLegacy(x.legacy, y.legacy);
}
