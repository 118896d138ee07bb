/**
 * Is a version inside an OSV affected entry? The evaluation of the OSV schema's "Evaluation"
 * section: events sorted by version; `introduced` opens, `fixed` and `limit` close at the version,
 * `last_affected` closes after it; an explicit `versions` list adds exact versions.
 */
import type { OsvAffected, OsvEvent, OsvRange } from './osv.js';
import { compareGoVersions, comparatorFor, type VersionComparator } from './versions/index.js';

export interface RangeVerdict {
  affected: boolean;
  /** The lowest `fixed` above the version in a range that affects it. */
  fixedVersion?: string;
}

type Kind = keyof OsvEvent;

function eventOf(e: OsvEvent): [Kind, string] {
  for (const k of ['introduced', 'fixed', 'last_affected', 'limit'] as const) {
    const v = e[k];
    if (v !== undefined) return [k, v];
  }
  throw new Error('empty OSV event');
}

const KIND_ORDER: Record<Kind, number> = { introduced: 0, last_affected: 1, fixed: 2, limit: 3 };

function comparatorForRange(range: OsvRange, ecosystem: string): VersionComparator | undefined {
  if (range.type === 'SEMVER') return compareGoVersions; // SemVer after dropping a `v`/`go` prefix
  if (range.type === 'ECOSYSTEM') return comparatorFor(ecosystem);
  return undefined; // GIT ranges name commits; an installed package has none
}

function isZero(v: string): boolean {
  return v === '0';
}

/** Events sorted by version, once per range object (records are immutable once validated). */
const sortedEvents = new WeakMap<OsvRange, Array<[Kind, string]>>();

function sortEvents(range: OsvRange, cmp: VersionComparator): Array<[Kind, string]> {
  let events = sortedEvents.get(range);
  if (!events) {
    events = range.events.map(eventOf).sort((a, b) => {
      // "0" means "since the first version": lowest of all.
      const r = isZero(a[1]) ? (isZero(b[1]) ? 0 : -1) : isZero(b[1]) ? 1 : cmp(a[1], b[1]);
      return r || KIND_ORDER[a[0]] - KIND_ORDER[b[0]];
    });
    sortedEvents.set(range, events);
  }
  return events;
}

export function evaluateRange(range: OsvRange, ecosystem: string, version: string): RangeVerdict {
  const cmp = comparatorForRange(range, ecosystem);
  if (!cmp) return { affected: false };
  const events = sortEvents(range, cmp);
  let affected = false;
  for (const [kind, v] of events) {
    if (kind === 'introduced') {
      if (isZero(v) || cmp(version, v) >= 0) affected = true;
    } else if (kind === 'fixed' || kind === 'limit') {
      if (cmp(version, v) >= 0) affected = false;
    } else if (kind === 'last_affected') {
      if (cmp(version, v) > 0) affected = false;
    }
  }
  if (!affected) return { affected };
  let fixedVersion: string | undefined;
  for (const [kind, v] of events) {
    if (kind === 'fixed' && cmp(version, v) < 0 && (fixedVersion === undefined || cmp(v, fixedVersion) < 0)) fixedVersion = v;
  }
  return fixedVersion === undefined ? { affected } : { affected, fixedVersion };
}

/** Whether `version` is affected by this entry, and the fix to move to when one exists. */
export function evaluateAffected(entry: OsvAffected, version: string): RangeVerdict {
  const cmp = comparatorFor(entry.package.ecosystem);
  const verdicts = entry.ranges.map((r) => evaluateRange(r, entry.package.ecosystem, version)).filter((v) => v.affected);
  if (verdicts.length > 0) {
    // Several ranges may hold the version: the fix must leave all of them, and one without a fix means none.
    if (verdicts.some((v) => v.fixedVersion === undefined)) return { affected: true };
    const fixes = verdicts.map((v) => v.fixedVersion!).sort(cmp);
    return { affected: true, fixedVersion: fixes[fixes.length - 1]! };
  }
  const listed = entry.versions.some((v) => v === version || cmp(v, version) === 0);
  return { affected: listed };
}
