import { memoize } from './memo.js';

/**
 * Maven's ComparableVersion as maven-artifact 3.9.x has it (unchanged from 3.9.6 to 3.9.16): the
 * version splits on `.`, `-` and digit/letter transitions into nested lists; numbers are int, long
 * or BigInteger items by digit count (≤ 9, ≤ 18, more; an all-zero run keeps its length), and each
 * class orders above the smaller ones; known qualifiers order alpha < beta < milestone < rc <
 * snapshot < "" (ga, final, release) < sp, unknown ones after them alphabetically; trailing null
 * items are dropped. Ported line by line (no maintained JS package implements it) and checked
 * against ComparableVersionTest and the real class's answers (testdata/SOURCES.md).
 */

const enum Kind {
  Number,
  String,
  List,
}

/** Java's item classes for numbers: IntItem < LongItem < BigIntegerItem whatever the values. */
const enum NumberClass {
  Int,
  Long,
  Big,
}

type Item =
  | { kind: Kind.Number; cls: NumberClass; digits: string }
  | { kind: Kind.String; value: string }
  | { kind: Kind.List; items: Item[] };

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Record<string, string> = { ga: '', final: '', release: '', cr: 'rc' };
const RELEASE_INDEX = String(QUALIFIERS.indexOf(''));
const MAX_INT_LENGTH = 9;
const MAX_LONG_LENGTH = 18;

function stringItem(text: string, followedByDigit: boolean): Item {
  let value = text;
  if (followedByDigit && value.length === 1) {
    if (value === 'a') value = 'alpha';
    else if (value === 'b') value = 'beta';
    else if (value === 'm') value = 'milestone';
  }
  return { kind: Kind.String, value: Object.hasOwn(ALIASES, value) ? ALIASES[value]! : value };
}

function comparableQualifier(q: string): string {
  const i = QUALIFIERS.indexOf(q);
  return i >= 0 ? String(i) : `${QUALIFIERS.length}-${q}`;
}

/** ComparableVersion.stripLeadingZeroes: an all-zero run is returned unchanged. */
function stripLeadingZeroes(digits: string): string {
  if (digits === '') return '0';
  for (let i = 0; i < digits.length; i++) if (digits[i] !== '0') return digits.slice(i);
  return digits;
}

function parseItem(isDigit: boolean, text: string): Item {
  if (!isDigit) return stringItem(text, false);
  const digits = stripLeadingZeroes(text);
  const cls = digits.length <= MAX_INT_LENGTH ? NumberClass.Int : digits.length <= MAX_LONG_LENGTH ? NumberClass.Long : NumberClass.Big;
  return { kind: Kind.Number, cls, digits };
}

const ZERO: Item = { kind: Kind.Number, cls: NumberClass.Int, digits: '0' };

function isZeroDigits(digits: string): boolean {
  for (let i = 0; i < digits.length; i++) if (digits[i] !== '0') return false;
  return true;
}

function isNull(item: Item): boolean {
  if (item.kind === Kind.Number) return isZeroDigits(item.digits);
  if (item.kind === Kind.String) return comparableQualifier(item.value) === RELEASE_INDEX;
  return item.items.length === 0;
}

/** ListItem.normalize: drop null items from the end, stopping at the first non-null non-list. */
function normalize(list: Item[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const last = list[i]!;
    if (isNull(last)) list.splice(i, 1);
    else if (last.kind !== Kind.List) break;
  }
}

export function parseMavenVersion(version: string): Item {
  const text = version.toLowerCase();
  const root: Item[] = [];
  let list = root;
  const stack: Item[][] = [root];
  let isDigit = false;
  let start = 0;
  const pushList = (): void => {
    const next: Item[] = [];
    list.push({ kind: Kind.List, items: next });
    list = next;
    stack.push(next);
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */ || c === 45 /* - */) {
      list.push(i === start ? ZERO : parseItem(isDigit, text.slice(start, i)));
      start = i + 1;
      if (c === 45) pushList();
    } else if (c >= 48 && c <= 57) {
      if (!isDigit && i > start) {
        // MNG-7644: a qualifier after other items of its list starts a list of its own.
        if (list.length > 0) pushList();
        list.push(stringItem(text.slice(start, i), true));
        start = i;
        pushList();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        list.push(parseItem(true, text.slice(start, i)));
        start = i;
        pushList();
      }
      isDigit = false;
    }
  }
  if (text.length > start) {
    if (!isDigit && list.length > 0) pushList();
    list.push(parseItem(isDigit, text.slice(start)));
  }
  while (stack.length) normalize(stack.pop()!);
  return { kind: Kind.List, items: root };
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Values of the same class: digit strings, compared numerically (an all-zero run is 0). */
function compareNumbers(a: string, b: string): number {
  const x = isZeroDigits(a) ? '0' : a;
  const y = isZeroDigits(b) ? '0' : b;
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return compareStrings(x, y);
}

/** Item.compareTo(other), `undefined` standing for Java's null (a missing item). */
function compareItem(a: Item, b: Item | undefined): number {
  switch (a.kind) {
    case Kind.Number:
      if (!b) return isZeroDigits(a.digits) ? 0 : 1; // 1.0 == 1, 1.1 > 1
      if (b.kind === Kind.Number) return a.cls !== b.cls ? (a.cls < b.cls ? -1 : 1) : compareNumbers(a.digits, b.digits);
      return 1; // 1.1 > 1-sp, 1.1 > 1-1
    case Kind.String:
      if (!b) return compareStrings(comparableQualifier(a.value), RELEASE_INDEX);
      if (b.kind === Kind.String) return compareStrings(comparableQualifier(a.value), comparableQualifier(b.value));
      return -1; // 1.any < 1.1, 1.any < 1-1
    case Kind.List: {
      if (!b) {
        for (const item of a.items) {
          const r = compareItem(item, undefined);
          if (r !== 0) return r;
        }
        return 0;
      }
      if (b.kind === Kind.Number) return -1; // 1-1 < 1.0.x
      if (b.kind === Kind.String) return 1; // 1-1 > 1-sp
      const n = Math.max(a.items.length, b.items.length);
      for (let i = 0; i < n; i++) {
        const l = a.items[i];
        const r = b.items[i];
        const result = l === undefined ? (r === undefined ? 0 : -compareItem(r, l)) : compareItem(l, r);
        if (result !== 0) return result;
      }
      return 0;
    }
  }
}

/** A version's parsed form, kept: matching compares the same versions over and over. */
const parseCached = memoize(parseMavenVersion);

/** -1, 0 or 1 as `new ComparableVersion(a).compareTo(new ComparableVersion(b))` signs. */
export function compareMavenVersions(a: string, b: string): number {
  if (a === b) return 0;
  const r = compareItem(parseCached(a), parseCached(b));
  return r < 0 ? -1 : r > 0 ? 1 : 0;
}
