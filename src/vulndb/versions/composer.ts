import { memoize } from './memo.js';

/**
 * Packagist versions ordered as Composer orders them (composer/semver `Semver::sort`): each version
 * is normalised by `VersionParser::normalize` (`v1.0` → `1.0.0.0`, `1.0RC1` → `1.0.0.0-RC1`,
 * `1.x-dev` → `1.9999999.9999999.9999999-dev`, `master` → `dev-master` → `9999999-dev`), then the
 * normal forms are compared with PHP's `version_compare()` (ext/standard/versioning.c):
 * dev < alpha = a < beta = b < RC = rc < number < pl = p, unknown words below dev. Both are ported
 * line by line and checked against composer/semver's and php-src's own test vectors. A string
 * Composer cannot normalise (it would throw) is compared as given, trimmed.
 */

/** VersionParser::$modifierRegex */
const MODIFIER = '[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\\d+)*)?)?([.-]?dev)?';
const STABILITIES = 'stable|RC|beta|alpha|dev';
const CLASSICAL = new RegExp(`^v?(\\d{1,5})(\\.\\d+)?(\\.\\d+)?(\\.\\d+)?${MODIFIER}$`, 'i');
const DATETIME = new RegExp(`^v?(\\d{4}(?:[.:-]?\\d{2}){1,6}(?:[.:-]?\\d{1,3}){0,2})${MODIFIER}$`, 'i');
const STABILITY_FLAG = new RegExp(`@(?:${STABILITIES})$`, 'i');
const BRANCH = /^v?(\d+)(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?$/i;

/** PHP's trim() default set: space, tab, newline, carriage return, NUL, vertical tab. */
const PHP_TRIM = new Set([' ', '\t', '\n', '\r', '\0', '\v']);

function phpTrim(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && PHP_TRIM.has(s[start]!)) start++;
  while (end > start && PHP_TRIM.has(s[end - 1]!)) end--;
  return s.slice(start, end);
}

function expandStability(stability: string): string {
  const s = stability.toLowerCase();
  if (s === 'a') return 'alpha';
  if (s === 'b') return 'beta';
  if (s === 'p' || s === 'pl') return 'patch';
  if (s === 'rc') return 'RC';
  return s;
}

/** VersionParser::normalizeBranch */
function normalizeBranch(name: string): string {
  const trimmed = phpTrim(name);
  const m = BRANCH.exec(trimmed);
  if (m) {
    let version = '';
    for (let i = 1; i < 5; i++) version += m[i] !== undefined ? m[i]!.replace(/[*X]/g, 'x') : '.x';
    return `${version.replace(/x/g, '9999999')}-dev`;
  }
  return `dev-${trimmed}`;
}

/** VersionParser::normalize; undefined where Composer throws UnexpectedValueException. */
export function normalizeComposerVersion(input: string): string | undefined {
  let version = phpTrim(input);
  const alias = /^([^,\s]+) +as +([^,\s]+)$/.exec(version);
  if (alias) version = alias[1]!;
  const flag = STABILITY_FLAG.exec(version);
  if (flag) version = version.slice(0, version.length - flag[0].length);
  if (version === 'master' || version === 'trunk' || version === 'default') version = `dev-${version}`;
  if (version.slice(0, 4).toLowerCase() === 'dev-') return `dev-${version.slice(4)}`;
  const build = /^([^,\s+]+)\+\S+$/.exec(version);
  if (build) version = build[1]!;

  let m = CLASSICAL.exec(version);
  let index: number;
  if (m) {
    version = m[1]! + (m[2] || '.0') + (m[3] || '.0') + (m[4] || '.0');
    index = 5;
  } else {
    m = DATETIME.exec(version);
    if (m) {
      version = m[1]!.replace(/\D/g, '.');
      index = 2;
    }
  }
  if (m) {
    // PHP's empty(): '' and '0' are empty.
    const empty = (s: string | undefined): boolean => s === undefined || s === '' || s === '0';
    if (!empty(m[index!])) {
      if (m[index!] === 'stable') return version;
      const number = m[index! + 1];
      version += `-${expandStability(m[index!]!)}${number !== undefined && number !== '' ? number.replace(/^[.-]+/, '') : ''}`;
    }
    if (!empty(m[index! + 2])) version += '-dev';
    return version;
  }

  const dev = /^(.*?)[.-]?dev$/i.exec(version);
  if (dev) {
    const normalized = normalizeBranch(dev[1]!);
    if (!normalized.includes('dev-')) return normalized;
  }
  return undefined;
}

/** VersionParser::normalizeDefaultBranch */
function normalizeDefaultBranch(name: string): string {
  return name === 'dev-master' || name === 'dev-default' || name === 'dev-trunk' ? '9999999-dev' : name;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlnum = (c: string): boolean => isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

/** php_canonicalize_version: `-`, `_`, `+` and other non-alphanumerics become `.`; `.` between digit and non-digit runs. */
function canonicalize(version: string): string {
  if (version === '') return '';
  let out = version[0]!;
  let lp = version[0]!;
  for (let i = 1; i < version.length; i++) {
    const c = version[i]!;
    const lq = out[out.length - 1];
    const isdig = (x: string): boolean => isDigit(x) && x !== '.';
    const isndig = (x: string): boolean => !isDigit(x) && x !== '.';
    if (c === '-' || c === '_' || c === '+') {
      if (lq !== '.') out += '.';
    } else if ((isndig(lp) && isdig(c)) || (isdig(lp) && isndig(c))) {
      if (lq !== '.') out += '.';
      out += c;
    } else if (!isAlnum(c)) {
      if (lq !== '.') out += '.';
    } else {
      out += c;
    }
    lp = c;
  }
  return out;
}

const SPECIAL_FORMS: Array<[string, number]> = [
  ['dev', 0], ['alpha', 1], ['a', 1], ['beta', 2], ['b', 2], ['RC', 3], ['rc', 3], ['#', 4], ['pl', 5], ['p', 5],
];

function specialOrder(form: string): number {
  for (const [name, order] of SPECIAL_FORMS) if (form.startsWith(name)) return order;
  return -1;
}

function compareSpecial(a: string, b: string): number {
  return Math.sign(specialOrder(a) - specialOrder(b));
}

const LONG_MAX = 9223372036854775807n;

/** C strtol on a part that starts with a digit: the leading digit run, clamped to LONG_MAX. */
function strtol(part: string): bigint {
  let end = 0;
  while (isDigit(part[end])) end++;
  const n = BigInt(part.slice(0, end));
  return n > LONG_MAX ? LONG_MAX : n;
}

/** php_version_compare, walking the canonical strings as the C code does with strchr. */
export function phpVersionCompare(a: string, b: string): number {
  if (a === '' || b === '') return a === b ? 0 : a !== '' ? 1 : -1;
  const v1 = a[0] === '#' ? a : canonicalize(a);
  const v2 = b[0] === '#' ? b : canonicalize(b);
  let p1 = 0;
  let p2 = 0;
  // n1/n2: index of the dot ending the current part, or -1 (C's NULL); they start non-NULL.
  let n1 = 0;
  let n2 = 0;
  let compare = 0;
  while (p1 < v1.length && p2 < v2.length && n1 >= 0 && n2 >= 0) {
    n1 = v1.indexOf('.', p1);
    n2 = v2.indexOf('.', p2);
    const x = v1.slice(p1, n1 >= 0 ? n1 : v1.length);
    const y = v2.slice(p2, n2 >= 0 ? n2 : v2.length);
    if (isDigit(x[0]) && isDigit(y[0])) {
      const l1 = strtol(x);
      const l2 = strtol(y);
      compare = l1 < l2 ? -1 : l1 > l2 ? 1 : 0;
    } else if (!isDigit(x[0]) && !isDigit(y[0])) {
      compare = compareSpecial(x, y);
    } else {
      compare = isDigit(x[0]) ? compareSpecial('#N#', y) : compareSpecial(x, '#N#');
    }
    if (compare !== 0) break;
    if (n1 >= 0) p1 = n1 + 1;
    if (n2 >= 0) p2 = n2 + 1;
  }
  // A remainder that is empty (the string ended in a separator, as `1.2(message)` does after
  // canonicalisation) counts as nothing left: php-src#21689, which the current version_compare.phpt tests.
  if (compare === 0) {
    if (n1 >= 0 && p1 < v1.length) compare = isDigit(v1[p1]) ? 1 : phpVersionCompare(v1.slice(p1), '#N#');
    else if (n2 >= 0 && p2 < v2.length) compare = isDigit(v2[p2]) ? -1 : phpVersionCompare('#N#', v2.slice(p2));
  }
  return compare;
}

/** A version's normal form, kept: matching compares the same versions over and over. */
const sortKey = memoize((version: string): string => normalizeDefaultBranch(normalizeComposerVersion(version) ?? phpTrim(version)));

/** -1, 0 or 1 as Composer's Semver::sort orders `a` and `b`. */
export function compareComposerVersions(a: string, b: string): number {
  if (a === b) return 0;
  const x = sortKey(a);
  const y = sortKey(b);
  if (x === y) return 0;
  return phpVersionCompare(x, y);
}

const OPERATORS: Record<string, (r: number) => boolean> = {
  '<': (r) => r < 0,
  '<=': (r) => r <= 0,
  '>': (r) => r > 0,
  '>=': (r) => r >= 0,
  '==': (r) => r === 0,
  '=': (r) => r === 0,
  '!=': (r) => r !== 0,
  '<>': (r) => r !== 0,
};

/**
 * composer/semver `Comparator::compare(a, op, b)` (Constraint::versionCompare with branches
 * comparable): two `dev-` branches are only ever equal to themselves, never ordered.
 */
export function composerComparatorHolds(a: string, op: string, b: string): boolean {
  const holds = OPERATORS[op];
  if (!holds) throw new Error(`unknown Composer operator ${op}`);
  const aBranch = a.startsWith('dev-');
  const bBranch = b.startsWith('dev-');
  if (op === '!=' && (aBranch || bBranch)) return a !== b;
  if (aBranch && bBranch) return op === '==' && a === b;
  return holds(phpVersionCompare(a, b));
}
