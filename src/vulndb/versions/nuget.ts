import { compareDigits, compareNatural } from './natural.js';

/**
 * NuGet's version order (NuGetVersion / VersionComparer): up to four numeric parts (missing = 0),
 * then the release label: a version without one is newer; labels compare part by part, numeric
 * parts numerically and below text parts, text case-insensitively. Metadata after `+` is ignored.
 */
interface NuGetVersion {
  numbers: string[];
  labels: string[];
}

function parse(version: string): NuGetVersion | undefined {
  const text = version.trim().replace(/^v/i, '').split('+')[0]!;
  const dash = text.indexOf('-');
  const core = dash >= 0 ? text.slice(0, dash) : text;
  const release = dash >= 0 ? text.slice(dash + 1) : '';
  if (!/^\d+(\.\d+){0,3}$/.test(core)) return undefined;
  const numbers = core.split('.');
  while (numbers.length < 4) numbers.push('0');
  return { numbers, labels: release === '' ? [] : release.split('.') };
}

export function compareNuGetVersions(a: string, b: string): number {
  if (a === b) return 0;
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return compareNatural(a, b);
  for (let i = 0; i < 4; i++) {
    const r = compareDigits(x.numbers[i]!, y.numbers[i]!);
    if (r) return r;
  }
  if (x.labels.length === 0 || y.labels.length === 0) {
    return x.labels.length === y.labels.length ? 0 : x.labels.length === 0 ? 1 : -1;
  }
  const n = Math.max(x.labels.length, y.labels.length);
  for (let i = 0; i < n; i++) {
    const l = x.labels[i];
    const r = y.labels[i];
    if (l === undefined) return -1;
    if (r === undefined) return 1;
    const ln = /^\d+$/.test(l);
    const rn = /^\d+$/.test(r);
    let c: number;
    if (ln && rn) c = compareDigits(l, r);
    else if (ln !== rn) c = ln ? -1 : 1;
    else {
      const lu = l.toLowerCase();
      const ru = r.toLowerCase();
      c = lu < ru ? -1 : lu > ru ? 1 : 0;
    }
    if (c) return c;
  }
  return 0;
}
