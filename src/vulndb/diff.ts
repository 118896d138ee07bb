/**
 * What a new advisory database version changed: the (ecosystem, package key) entries whose
 * advisory records differ from the previous version's. Both files keep their key tables sorted by
 * the same bytes, so one merge walk over the two tables finds them; records are compared as bytes
 * (their stored JSON), never parsed. A key only in one file changed too (advisories added for a new
 * package, or every advisory of a package withdrawn), and so does a key whose list gained or lost
 * a record, or one of whose records was edited.
 *
 * Only stored inventories holding one of these packages can match differently, so they are all a
 * re-match after `db update` / `db import` has to look at (see rematch-scope.ts).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { AdvisoryFile } from './file.js';

/** Keys compared between yields: a whole osv.dev comparison inflates every block, so it lets requests through meanwhile. */
const KEYS_PER_SLICE = 5000;

export interface ChangedPackage {
  /** The ecosystem without release, as the file indexes it (`Debian`, `npm`). */
  ecosystem: string;
  /** The package key as matching looks it up (packageKey: source name for OS packages, PEP 503 for PyPI). */
  key: string;
}

function decode(key: Buffer): ChangedPackage {
  const zero = key.indexOf(0);
  return { ecosystem: key.toString('utf8', 0, zero), key: key.toString('utf8', zero + 1) };
}

function sameRecords(a: Buffer[], b: Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!a[i]!.equals(b[i]!)) return false;
  return true;
}

/** Every package whose advisories differ between `previous` and `next`, in key order. */
export async function diffAdvisoryFiles(previous: AdvisoryFile, next: AdvisoryFile): Promise<ChangedPackage[]> {
  const changed: ChangedPackage[] = [];
  if (previous.version === next.version) return changed;
  const oldKeys = previous.header.keys;
  const newKeys = next.header.keys;
  let i = 0;
  let j = 0;
  let steps = 0;
  while (i < oldKeys || j < newKeys) {
    if (++steps % KEYS_PER_SLICE === 0) await yieldToEventLoop();
    if (i >= oldKeys) {
      changed.push(decode(next.keyEntry(j++).key));
      continue;
    }
    if (j >= newKeys) {
      changed.push(decode(previous.keyEntry(i++).key));
      continue;
    }
    const a = previous.keyEntry(i);
    const b = next.keyEntry(j);
    const order = Buffer.compare(a.key, b.key);
    if (order < 0) {
      changed.push(decode(a.key));
      i++;
    } else if (order > 0) {
      changed.push(decode(b.key));
      j++;
    } else {
      if (!sameRecords(a.records(), b.records())) changed.push(decode(a.key));
      i++;
      j++;
    }
  }
  return changed;
}
