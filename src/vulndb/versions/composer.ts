import { compareDigits } from './natural.js';

/**
 * Composer (Packagist) order: Composer normalizes versions to four numeric parts plus a stability
 * suffix, then compares with PHP's version_compare(). Both steps are ported here by hand:
 * dev < alpha = a < beta = b < RC = rc < (number) < pl = p, unknown words below dev.
 */
const SPECIAL: Array<[string, number]> = [
  ['dev', 0], ['alpha', 1], ['a', 1], ['beta', 2], ['b', 2], ['RC', 3], ['rc', 3], ['#', 4], ['pl', 5], ['p', 5],
];

function specialForm(form: string): number {
  for (const [name, order] of SPECIAL) if (form.startsWith(name)) return order;
  return -6;
}

/** php_canonicalize_version: separators become `.`, and one is put between digit/non-digit runs. */
function canonicalParts(version: string): string[] {
  const parts: string[] = [];
  let current = '';
  let prevKind: 'digit' | 'alpha' | undefined;
  for (const c of version) {
    if (c === '-' || c === '_' || c === '+' || c === '.') {
      if (current) parts.push(current);
      current = '';
      prevKind = undefined;
      continue;
    }
    const kind = c >= '0' && c <= '9' ? 'digit' : 'alpha';
    if (prevKind && kind !== prevKind && current) {
      parts.push(current);
      current = '';
    }
    current += c;
    prevKind = kind;
  }
  if (current) parts.push(current);
  return parts;
}

function normalizeComposer(version: string): string {
  const text = version.trim().replace(/^v(?=\d)/i, '');
  const m = /^(\d+(?:\.\d+){0,3})(.*)$/.exec(text);
  if (!m) return text;
  const numbers = m[1]!.split('.');
  while (numbers.length < 4) numbers.push('0');
  return numbers.join('.') + (m[2] ?? '');
}

function isDigits(s: string): boolean {
  return /^\d/.test(s);
}

function compareSpecial(a: string, b: string): number {
  const x = specialForm(a);
  const y = specialForm(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function compareComposerVersions(a: string, b: string): number {
  if (a === b) return 0;
  const pa = canonicalParts(normalizeComposer(a));
  const pb = canonicalParts(normalizeComposer(b));
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    let r: number;
    if (isDigits(x) && isDigits(y)) r = compareDigits(x, y);
    else if (!isDigits(x) && !isDigits(y)) r = compareSpecial(x, y);
    else r = isDigits(x) ? compareSpecial('#', y) : compareSpecial(x, '#');
    if (r) return r;
  }
  if (pa.length > n) return isDigits(pa[n]!) ? 1 : compareSpecial(pa[n]!, '#');
  if (pb.length > n) return isDigits(pb[n]!) ? -1 : compareSpecial('#', pb[n]!);
  return 0;
}
