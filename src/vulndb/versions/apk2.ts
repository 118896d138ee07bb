/**
 * Alpine versions as apk-tools 2.x orders them (2.14-stable src/version.c, the package manager of
 * Alpine up to v3.22). It agrees with apk-tools 3 (./apk.ts) on every version both accept except
 * components with leading zeros after a dot (2.x: `8.2.0 > 8.2.001`, 3.x: `<`), and it accepts what
 * 3.x rejects: `-r` without a number (`1.0-r` sorts with `1.0-r0`), `1.0.a`, `0.1a1`. Ported token
 * by token, values as BigInt (apk's int64), and checked against the compiled C (testdata/SOURCES.md).
 */

const enum T {
  Invalid = -1,
  DigitOrZero = 0,
  Digit = 1,
  Letter = 2,
  Suffix = 3,
  SuffixNo = 4,
  RevisionNo = 5,
  End = 6,
}

const PRE_SUFFIXES = ['alpha', 'beta', 'pre', 'rc'];
const POST_SUFFIXES = ['cvs', 'svn', 'git', 'hg', 'p'];

/** apk_blob_t walked in place: `s` from `pos` on. */
interface Blob {
  s: string;
  pos: number;
}

interface Cursor {
  type: T;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isLower = (c: string | undefined): boolean => c !== undefined && c >= 'a' && c <= 'z';

function nextToken(t: Cursor, b: Blob): void {
  let n = T.Invalid;
  const c = b.s[b.pos];
  if (b.pos >= b.s.length || c === '\0') {
    n = T.End;
  } else if ((t.type === T.Digit || t.type === T.DigitOrZero) && isLower(c)) {
    n = T.Letter;
  } else if (t.type === T.Letter && isDigit(c)) {
    n = T.Digit;
  } else if (t.type === T.Suffix && isDigit(c)) {
    n = T.SuffixNo;
  } else {
    if (c === '.') n = T.DigitOrZero;
    else if (c === '_') n = T.Suffix;
    else if (c === '-') {
      if (b.s.length - b.pos > 1 && b.s[b.pos + 1] === 'r') {
        n = T.RevisionNo;
        b.pos++;
      }
    }
    b.pos++;
  }
  if (n < t.type) {
    if (!((n === T.DigitOrZero && t.type === T.Digit) || (n === T.Suffix && t.type === T.SuffixNo) || (n === T.Digit && t.type === T.Letter))) {
      n = T.Invalid;
    }
  }
  t.type = n;
}

function matchSuffix(list: string[], b: Blob): { index: number; length: number } | undefined {
  for (let v = 0; v < list.length; v++) {
    const name = list[v]!;
    if (name.length <= b.s.length - b.pos && b.s.startsWith(name, b.pos)) return { index: v, length: name.length };
  }
  return undefined;
}

function getToken(t: Cursor, b: Blob): bigint {
  let i = 0;
  let nt = T.Invalid;
  let v = 0n;
  const len = b.s.length - b.pos;
  if (len <= 0) {
    t.type = T.End;
    return 0n;
  }
  const at = (k: number): string | undefined => b.s[b.pos + k];
  const parseNumber = (): boolean => {
    while (i < len && isDigit(at(i))) v = v * 10n + BigInt(at(i++)!.charCodeAt(0) - 48);
    return i < 18;
  };
  switch (t.type) {
    case T.DigitOrZero:
      // Leading zeros get a special treatment: their count, negated, then the rest as a number.
      if (at(0) === '0') {
        while (i + 1 < len && at(i + 1) === '0') i++;
        nt = T.Digit;
        v = BigInt(-i);
      } else if (!parseNumber()) {
        t.type = T.Invalid;
        return -1n;
      }
      break;
    case T.Digit:
    case T.SuffixNo:
    case T.RevisionNo:
      if (!parseNumber()) {
        t.type = T.Invalid;
        return -1n;
      }
      break;
    case T.Letter:
      v = BigInt(at(i++)!.charCodeAt(0));
      break;
    case T.Suffix: {
      const pre = matchSuffix(PRE_SUFFIXES, b);
      if (pre) {
        i = pre.length;
        v = BigInt(pre.index - PRE_SUFFIXES.length);
        break;
      }
      const post = matchSuffix(POST_SUFFIXES, b);
      if (post) {
        i = post.length;
        v = BigInt(post.index);
        break;
      }
      t.type = T.Invalid;
      return -1n;
    }
    default:
      t.type = T.Invalid;
      return -1n;
  }
  b.pos += i;
  if (b.pos >= b.s.length) t.type = T.End;
  else if (nt !== T.Invalid) t.type = nt;
  else nextToken(t, b);
  return v;
}

/** apk_version_validate of apk-tools 2.x. */
export function isValidApk2Version(version: string): boolean {
  const t: Cursor = { type: T.Digit };
  const b: Blob = { s: version, pos: 0 };
  while (t.type !== T.End && t.type !== T.Invalid) getToken(t, b);
  return t.type === T.End;
}

/** -1, 0 or 1 as apk-tools 2.x `apk version -t` orders them (apk_version_compare_blob). */
export function compareApk2Versions(a: string, b: string): number {
  if (a === b) return 0;
  const ta: Cursor = { type: T.Digit };
  const tb: Cursor = { type: T.Digit };
  const ba: Blob = { s: a, pos: 0 };
  const bb: Blob = { s: b, pos: 0 };
  let av = 0n;
  let bv = 0n;
  while (ta.type === tb.type && ta.type !== T.End && ta.type !== T.Invalid && av === bv) {
    av = getToken(ta, ba);
    bv = getToken(tb, bb);
  }
  if (av < bv) return -1;
  if (av > bv) return 1;
  if (ta.type === tb.type) return 0;
  // Equal so far: the longer version is newer unless what follows is a pre-release suffix.
  if (ta.type === T.Suffix && getToken({ type: ta.type }, ba) < 0n) return -1;
  if (tb.type === T.Suffix && getToken({ type: tb.type }, bb) < 0n) return 1;
  if (ta.type > tb.type) return -1;
  if (tb.type > ta.type) return 1;
  return 0;
}
