import { compareDigits } from './natural.js';

/**
 * RubyGems' Gem::Version#<=>: `-` means `.pre.`, segments are digit runs (numbers) or letter runs
 * (pre-release strings, lower than any number), trailing zeros of the release part are ignored.
 * Ported by hand from rubygems/version.rb.
 */
type Segment = string | number | bigint;

function segments(version: string): Segment[] {
  const text = version.trim().replace(/-/g, '.pre.');
  return (text.match(/[0-9]+|[a-z]+/gi) ?? []).map((s) => (/^\d/.test(s) ? BigInt(s) : s));
}

function canonical(version: string): Segment[] {
  const segs = segments(version);
  const firstString = segs.findIndex((s) => typeof s === 'string');
  const numeric = firstString < 0 ? segs : segs.slice(0, firstString);
  const rest = firstString < 0 ? [] : segs.slice(firstString);
  const trim = (list: Segment[]): Segment[] => {
    let end = list.length;
    while (end > 0 && list[end - 1] === 0n) end--;
    return list.slice(0, end);
  };
  return [...trim(numeric), ...trim(rest)];
}

export function compareRubyGemsVersions(a: string, b: string): number {
  if (a === b) return 0;
  const l = canonical(a);
  const r = canonical(b);
  const limit = Math.max(l.length, r.length);
  for (let i = 0; i < limit; i++) {
    const x = l[i] ?? 0n;
    const y = r[i] ?? 0n;
    if (x === y) continue;
    if (typeof x === 'string' && typeof y !== 'string') return -1;
    if (typeof x !== 'string' && typeof y === 'string') return 1;
    if (typeof x === 'string' && typeof y === 'string') return x < y ? -1 : 1;
    return compareDigits(String(x), String(y));
  }
  return 0;
}
