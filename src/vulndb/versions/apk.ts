/**
 * Alpine package versions (`digit{.digit}...{letter}{_suffix{number}}...{~hash}{-r#}`), ordered as
 * apk-tools' src/version.c does. Written by hand (no maintained JS port exists); the tests run
 * every vector of apk-tools' own test/unit/version.data.
 */

const enum Token {
  InitialDigit,
  Digit,
  Letter,
  Suffix,
  SuffixNo,
  CommitHash,
  RevisionNo,
  End,
  Invalid,
}

/** Pre-release suffixes sort below "no suffix" (5), post-release ones above. */
const SUFFIXES: Record<string, number> = { alpha: 1, beta: 2, pre: 3, rc: 4, cvs: 6, svn: 7, git: 8, hg: 9, p: 10 };
const SUFFIX_NONE = 5;

interface TokenState {
  token: Token;
  suffix: number;
  value: string;
  pos: number;
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function spanWhile(s: string, pos: number, test: (c: string) => boolean): number {
  let end = pos;
  while (end < s.length && test(s[end]!)) end++;
  return end;
}

function parseDigits(t: TokenState, s: string): void {
  const end = spanWhile(s, t.pos, isDigit);
  t.value = s.slice(t.pos, end);
  t.pos = end;
  if (t.value === '') t.token = Token.Invalid;
}

function first(s: string): TokenState {
  const t: TokenState = { token: Token.InitialDigit, suffix: 0, value: '', pos: 0 };
  parseDigits(t, s);
  return t;
}

function next(t: TokenState, s: string): void {
  if (t.pos >= s.length) {
    t.token = Token.End;
    return;
  }
  const c = s[t.pos]!;
  if (c >= 'a' && c <= 'z') {
    if (t.token > Token.Digit) return invalid(t);
    t.value = c;
    t.token = Token.Letter;
    t.pos++;
  } else if (c === '.' || isDigit(c)) {
    if (c === '.') {
      if (t.token > Token.Digit) return invalid(t);
      t.pos++;
    }
    if (t.token === Token.InitialDigit || t.token === Token.Digit) t.token = Token.Digit;
    else if (t.token === Token.Suffix) t.token = Token.SuffixNo;
    else return invalid(t);
    parseDigits(t, s);
  } else if (c === '_') {
    if (t.token > Token.SuffixNo) return invalid(t);
    const end = spanWhile(s, t.pos + 1, (x) => x >= 'a' && x <= 'z');
    t.value = s.slice(t.pos + 1, end);
    t.pos = end;
    t.suffix = SUFFIXES[t.value] ?? 0;
    if (t.suffix === 0) return invalid(t);
    t.token = Token.Suffix;
  } else if (c === '~') {
    if (t.token >= Token.CommitHash) return invalid(t);
    const end = spanWhile(s, t.pos + 1, (x) => (x >= '0' && x <= '9') || (x >= 'a' && x <= 'f')); // APK_CTYPE_HEXDIGIT: lower case only
    t.value = s.slice(t.pos + 1, end);
    t.pos = end;
    if (t.value === '') return invalid(t);
    t.token = Token.CommitHash;
  } else if (c === '-') {
    if (t.token >= Token.RevisionNo || s[t.pos + 1] !== 'r') return invalid(t);
    t.pos += 2;
    t.token = Token.RevisionNo;
    parseDigits(t, s);
  } else {
    invalid(t);
  }
}

function invalid(t: TokenState): void {
  t.token = Token.Invalid;
}

/** Numeric order on digit strings of any length (apk uses uint64; no overflow here). */
function compareNumeric(a: string, b: string): number {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** apk_blob_sort: bytewise, then shorter first. */
function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareToken(a: TokenState, b: TokenState): number {
  switch (a.token) {
    case Token.Digit:
      // A leading zero makes the part a string, as in Gentoo's spec: 1.02 < 1.1.
      if (a.value.startsWith('0') || b.value.startsWith('0')) return compareBytes(a.value, b.value);
      return compareNumeric(a.value, b.value);
    case Token.InitialDigit:
    case Token.SuffixNo:
    case Token.RevisionNo:
      return compareNumeric(a.value, b.value);
    case Token.Letter:
      return compareBytes(a.value, b.value);
    case Token.Suffix:
      return a.suffix === b.suffix ? 0 : a.suffix < b.suffix ? -1 : 1;
    default:
      return compareBytes(a.value, b.value);
  }
}

export function isValidApkVersion(version: string): boolean {
  const t = first(version);
  while (t.token < Token.End) next(t, version);
  return t.token === Token.End;
}

function compareFuzzy(a: string, b: string, fuzzy: boolean): number {
  const ta = first(a);
  const tb = first(b);
  while (ta.token === tb.token && ta.token < Token.End) {
    const r = compareToken(ta, tb);
    if (r !== 0) return r;
    next(ta, a);
    next(tb, b);
  }
  if (ta.token === tb.token) return 0;
  if (tb.token === Token.End && fuzzy) return 0;
  // Equal so far: the longer version is newer unless what follows is a pre-release suffix.
  if (ta.token === Token.Suffix && ta.suffix < SUFFIX_NONE) return -1;
  if (tb.token === Token.Suffix && tb.suffix < SUFFIX_NONE) return 1;
  if (ta.token > tb.token) return -1;
  if (tb.token > ta.token) return 1;
  return 0;
}

/** -1, 0 or 1, as `apk version -t` orders them. */
export function compareApkVersions(a: string, b: string): number {
  if (a === b) return 0;
  return compareFuzzy(a, b, false);
}

/**
 * apk's dependency operators: `<`, `<=`, `=`, `>=`, `>`, `~` (fuzzy: same prefix), `<~`, `>~`,
 * any of them negated with a leading `!`.
 */
export function apkVersionSatisfies(a: string, op: string, b: string): boolean {
  const negate = op.startsWith('!');
  const ops = negate ? op.slice(1) : op;
  let mask = 0;
  let fuzzy = false;
  for (const c of ops) {
    if (c === '<') mask |= 1;
    else if (c === '=') mask |= 2;
    else if (c === '>') mask |= 4;
    else if (c === '~') {
      mask |= 2;
      fuzzy = true;
    } else throw new Error(`unknown apk version operator ${op}`);
  }
  const r = compareFuzzy(a, b, fuzzy);
  const bit = r < 0 ? 1 : r > 0 ? 4 : 2;
  const ok = (mask & bit) !== 0;
  return negate ? !ok : ok;
}
