/**
 * RPM versions: rpmvercmp() from rpm's lib/rpmvercmp.c (with `~` and `^`) and EVR comparison as
 * rpm's Lua rpm.vercmp() does it (epoch, then version, then release; no release sorts first). Written by hand
 * because it is short and specified; the tests check it against `rpm` itself.
 */

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
const TILDE = 126;
const CARET = 94;

/** rpmvercmp: -1, 0 or 1 for two version (or release) strings. */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let one = 0;
  let two = 0;
  const at = (s: string, i: number): number => (i < s.length ? s.charCodeAt(i) : 0);
  while (one < a.length || two < b.length) {
    while (one < a.length && !isDigit(at(a, one)) && !isAlpha(at(a, one)) && at(a, one) !== TILDE && at(a, one) !== CARET) one++;
    while (two < b.length && !isDigit(at(b, two)) && !isAlpha(at(b, two)) && at(b, two) !== TILDE && at(b, two) !== CARET) two++;

    // `~` sorts before everything, even the end of the string.
    if (at(a, one) === TILDE || at(b, two) === TILDE) {
      if (at(a, one) !== TILDE) return 1;
      if (at(b, two) !== TILDE) return -1;
      one++;
      two++;
      continue;
    }
    // `^` sorts after the end of the string but before anything else.
    if (at(a, one) === CARET || at(b, two) === CARET) {
      if (one >= a.length) return -1;
      if (two >= b.length) return 1;
      if (at(a, one) !== CARET) return 1;
      if (at(b, two) !== CARET) return -1;
      one++;
      two++;
      continue;
    }
    if (!(one < a.length && two < b.length)) break;

    let end1 = one;
    let end2 = two;
    const isNum = isDigit(at(a, one));
    const inSegment = isNum ? isDigit : isAlpha;
    while (end1 < a.length && inSegment(at(a, end1))) end1++;
    while (end2 < b.length && inSegment(at(b, end2))) end2++;
    // Numeric segments are newer than alpha ones.
    if (end2 === two) return isNum ? 1 : -1;

    let s1 = a.slice(one, end1);
    let s2 = b.slice(two, end2);
    if (isNum) {
      s1 = s1.replace(/^0+/, '');
      s2 = s2.replace(/^0+/, '');
      if (s1.length !== s2.length) return s1.length > s2.length ? 1 : -1;
    }
    if (s1 !== s2) return s1 < s2 ? -1 : 1;
    one = end1;
    two = end2;
  }
  if (one >= a.length && two >= b.length) return 0;
  return one >= a.length ? -1 : 1;
}

export interface Evr {
  /** undefined when absent; compares as 0. */
  epoch: string | undefined;
  version: string;
  /** undefined when absent; sorts before any release. */
  release: string | undefined;
}

/** rpm's parseEVR: digits before `:` are the epoch, the text after the last `-` the release. */
export function parseEvr(evr: string): Evr {
  let s = 0;
  while (s < evr.length && isDigit(evr.charCodeAt(s))) s++;
  const dash = evr.lastIndexOf('-');
  const hasEpoch = evr[s] === ':';
  const epoch = hasEpoch ? evr.slice(0, s) || '0' : undefined;
  const versionStart = hasEpoch ? s + 1 : 0;
  // strrchr starts at the epoch terminator, so a dash inside the epoch digits cannot occur.
  if (dash >= s && dash >= versionStart) {
    return { epoch, version: evr.slice(versionStart, dash), release: evr.slice(dash + 1) };
  }
  return { epoch, version: evr.slice(versionStart), release: undefined };
}

/** -1, 0 or 1 for two `[epoch:]version[-release]` strings, as `rpm.vercmp` in rpm's Lua orders them. */
export function compareRpmVersions(a: string, b: string): number {
  if (a === b) return 0;
  const x = parseEvr(a);
  const y = parseEvr(b);
  const epoch = rpmvercmp(x.epoch ?? '0', y.epoch ?? '0');
  if (epoch) return epoch;
  const version = rpmvercmp(x.version, y.version);
  if (version) return version;
  // rpm 4.18's rpm.vercmp: a missing release sorts before any release, even an empty one.
  if (x.release !== undefined && y.release !== undefined) return rpmvercmp(x.release, y.release);
  if (x.release === y.release) return 0;
  return x.release === undefined ? -1 : 1;
}
