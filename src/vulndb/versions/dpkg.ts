import { PalisadeError } from '../../core/index.js';
import { memoize } from './memo.js';

/**
 * Debian package versions (`[epoch:]upstream[-revision]`), ordered exactly as dpkg's
 * lib/dpkg/version.c does: `~` sorts before everything (even the end), letters before
 * other symbols, digit runs numerically. Written by hand because the algorithm is short and
 * specified, and checked against the `dpkg` binary in the tests.
 */
export interface DpkgVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

const UPSTREAM_CHARS = /^[A-Za-z0-9.+~:-]*$/;
const REVISION_CHARS = /^[A-Za-z0-9.+~]*$/;

/**
 * Splits without judging: dpkg compares versions it would warn about, and so do we. Split forms are
 * kept: matching compares the same few thousand versions over and over.
 */
export const splitDpkgVersion: (input: string) => DpkgVersion = memoize(splitUncached);

function splitUncached(input: string): DpkgVersion {
  const text = input.trim();
  const colon = text.indexOf(':');
  let epoch = 0;
  let rest = text;
  if (colon >= 0 && /^\d+$/.test(text.slice(0, colon))) {
    epoch = Number(text.slice(0, colon));
    rest = text.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  return dash >= 0
    ? { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) }
    : { epoch, upstream: rest, revision: '' };
}

/** The reason dpkg rejects a version, or undefined when it is valid (dpkg's parseversion with strict checks). */
export function dpkgVersionProblem(input: string): string | undefined {
  const text = input.trim();
  if (text === '') return 'version string is empty';
  if (/\s/.test(text)) return 'version string has embedded spaces';
  const colon = text.indexOf(':');
  let rest = text;
  if (colon >= 0) {
    const epoch = text.slice(0, colon);
    if (epoch === '') return 'epoch in version is empty';
    if (!/^\d+$/.test(epoch)) return 'epoch in version is not number';
    if (Number(epoch) > 2147483647) return 'epoch in version is too big';
    rest = text.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest;
  const revision = dash >= 0 ? rest.slice(dash + 1) : '';
  if (dash >= 0 && revision === '') return 'revision number is empty';
  if (upstream === '') return 'version number is empty';
  if (!/^\d/.test(upstream)) return 'version number does not start with digit';
  if (!UPSTREAM_CHARS.test(upstream)) return 'invalid character in version number';
  if (!REVISION_CHARS.test(revision)) return 'invalid character in revision number';
  return undefined;
}

export function isValidDpkgVersion(input: string): boolean {
  return dpkgVersionProblem(input) === undefined;
}

export function parseDpkgVersion(input: string): DpkgVersion {
  const problem = dpkgVersionProblem(input);
  if (problem) {
    throw new PalisadeError('vulndb.version.invalid', `invalid Debian version '${input}': ${problem}`, {
      field: 'version',
      hint: 'Debian versions look like [epoch:]upstream[-revision], e.g. 1:2.36-9+deb12u4',
    });
  }
  return splitDpkgVersion(input);
}

const CODE_0 = 48;
const CODE_9 = 57;
const TILDE = 126;

function isDigit(code: number): boolean {
  return code >= CODE_0 && code <= CODE_9;
}

function isAlpha(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

/** dpkg's order(): digits 0 (never reached here), letters by code, `~` lowest, others after letters, end 0. */
function order(s: string, i: number): number {
  if (i >= s.length) return 0;
  const c = s.charCodeAt(i);
  if (isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === TILDE) return -1;
  return c + 256;
}

/** dpkg's verrevcmp over one part (upstream or revision). */
export function compareDpkgPart(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = order(a, i);
      const bc = order(b, j);
      if (ac !== bc) return ac < bc ? -1 : 1;
      i++;
      j++;
    }
    while (i < a.length && a.charCodeAt(i) === CODE_0) i++;
    while (j < b.length && b.charCodeAt(j) === CODE_0) j++;
    while (i < a.length && j < b.length && isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && isDigit(a.charCodeAt(i))) return 1;
    if (j < b.length && isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff) return firstDiff < 0 ? -1 : 1;
  }
  return 0;
}

/** -1, 0 or 1, as `dpkg --compare-versions` orders them. */
export function compareDpkgVersions(a: string, b: string): number {
  if (a === b) return 0;
  const va = splitDpkgVersion(a);
  const vb = splitDpkgVersion(b);
  if (va.epoch !== vb.epoch) return va.epoch < vb.epoch ? -1 : 1;
  return compareDpkgPart(va.upstream, vb.upstream) || compareDpkgPart(va.revision, vb.revision);
}
