import * as pep440 from '@renovatebot/pep440';
import { compareNatural, sign } from './natural.js';

/** PEP 440 order (PyPI) through @renovatebot/pep440; legacy non-PEP 440 strings sort naturally. */
export function comparePep440(a: string, b: string): number {
  if (a === b) return 0;
  if (pep440.valid(a) && pep440.valid(b)) return sign(pep440.compare(a, b));
  return compareNatural(a, b);
}
