import { hash, randomBytes } from 'node:crypto';

/** Randomness comes from here so tests can make ids deterministic. */
export interface IdSource {
  next(prefix?: string): string;
}

/** Time-ordered ids (48-bit ms timestamp + 80 random bits, hex), sortable like ULIDs. */
export const randomIds: IdSource = {
  next(prefix = '') {
    const time = Date.now().toString(16).padStart(12, '0');
    return prefix + time + randomBytes(10).toString('hex');
  },
};

/** Predictable ids for tests: `prefix0001`, `prefix0002`, ... */
export function sequentialIds(): IdSource {
  let n = 0;
  return { next: (prefix = '') => prefix + String(++n).padStart(4, '0') };
}

/** One-shot hashing (crypto.hash): about half the cost of createHash for the short inputs ids are made of. */
export function sha256Hex(data: string | Uint8Array): string {
  return hash('sha256', data, 'hex');
}
