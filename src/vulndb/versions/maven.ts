import { compareDigits } from './natural.js';

/**
 * Maven's ComparableVersion (maven-artifact): versions split on `.`, `-` and digit/letter
 * transitions into nested lists; known qualifiers order alpha < beta < milestone < rc < snapshot
 * < release < sp, unknown qualifiers after them alphabetically; trailing zeros and release
 * qualifiers are dropped. Ported by hand (no maintained JS package implements it).
 */

type Item = { kind: 'int'; value: string } | { kind: 'string'; value: string } | { kind: 'list'; items: Item[] };

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Record<string, string> = { ga: '', final: '', release: '', cr: 'rc' };
const RELEASE_INDEX = String(QUALIFIERS.indexOf(''));

function stringItem(value: string, followedByDigit: boolean): Item {
  let v = value;
  if (followedByDigit && v.length === 1) {
    if (v === 'a') v = 'alpha';
    else if (v === 'b') v = 'beta';
    else if (v === 'm') v = 'milestone';
  }
  return { kind: 'string', value: ALIASES[v] ?? v };
}

function comparableQualifier(q: string): string {
  const i = QUALIFIERS.indexOf(q);
  return i >= 0 ? String(i) : `${QUALIFIERS.length}-${q}`;
}

function parseItem(isDigit: boolean, text: string): Item {
  return isDigit ? { kind: 'int', value: text.replace(/^0+/, '') || '0' } : stringItem(text, false);
}

function isNull(item: Item): boolean {
  if (item.kind === 'int') return item.value === '0';
  if (item.kind === 'string') return comparableQualifier(item.value) === RELEASE_INDEX;
  return item.items.length === 0;
}

function normalize(list: Item[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const last = list[i]!;
    if (isNull(last)) list.splice(i, 1);
    else if (last.kind !== 'list') break;
  }
}

export function parseMavenVersion(version: string): Item {
  const text = version.toLowerCase();
  const root: Item[] = [];
  let list = root;
  const stack: Item[][] = [root];
  let isDigit = false;
  let start = 0;
  const push = (): void => {
    const next: Item[] = [];
    list.push({ kind: 'list', items: next });
    list = next;
    stack.push(next);
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '.' || c === '-') {
      list.push(i === start ? { kind: 'int', value: '0' } : parseItem(isDigit, text.slice(start, i)));
      start = i + 1;
      if (c === '-') push();
    } else if (c >= '0' && c <= '9') {
      if (!isDigit && i > start) {
        list.push(stringItem(text.slice(start, i), true));
        start = i;
        push();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        list.push(parseItem(true, text.slice(start, i)));
        start = i;
        push();
      }
      isDigit = false;
    }
  }
  if (text.length > start) list.push(parseItem(isDigit, text.slice(start)));
  while (stack.length) normalize(stack.pop()!);
  return { kind: 'list', items: root };
}

function compareItem(a: Item, b: Item | undefined): number {
  switch (a.kind) {
    case 'int':
      if (!b) return a.value === '0' ? 0 : 1;
      if (b.kind === 'int') return compareDigits(a.value, b.value);
      return 1;
    case 'string': {
      if (!b) return compareStrings(comparableQualifier(a.value), RELEASE_INDEX);
      if (b.kind === 'string') return compareStrings(comparableQualifier(a.value), comparableQualifier(b.value));
      return -1;
    }
    case 'list': {
      if (!b) {
        const first = a.items[0];
        return first ? compareItem(first, undefined) : 0;
      }
      if (b.kind === 'int') return -1;
      if (b.kind === 'string') return 1;
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

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareMavenVersions(a: string, b: string): number {
  if (a === b) return 0;
  return compareItem(parseMavenVersion(a), parseMavenVersion(b));
}
