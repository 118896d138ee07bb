/**
 * Is a version inside an OSV affected entry? The evaluation of the OSV schema's "Evaluation"
 * section: events sorted by version; `introduced` opens, `fixed` and `limit` close at the version,
 * `last_affected` closes after it; an explicit `versions` list adds exact versions.
 *
 * Matching asks the same entries about many versions, so each entry is compiled once (events
 * sorted, comparator chosen, kinds as small integers) and kept beside the immutable record.
 */
import type { OsvAffected, OsvEvent, OsvRange } from './osv.js';
import { compareGoVersions, comparatorFor, type VersionComparator } from './versions/index.js';

export interface RangeVerdict {
  affected: boolean;
  /** The lowest `fixed` above the version in a range that affects it. */
  fixedVersion?: string;
}

type Kind = keyof OsvEvent;

const INTRODUCED = 0;
const LAST_AFFECTED = 1;
const FIXED = 2;
const LIMIT = 3;
const KIND_CODE: Record<Kind, number> = { introduced: INTRODUCED, last_affected: LAST_AFFECTED, fixed: FIXED, limit: LIMIT };

function eventOf(e: OsvEvent): [number, string] {
  for (const k of ['introduced', 'fixed', 'last_affected', 'limit'] as const) {
    const v = e[k];
    if (v !== undefined) return [KIND_CODE[k], v];
  }
  throw new Error('empty OSV event');
}

/** A range ready to evaluate: events in version order ("0" first), kinds as codes. */
interface CompiledRange {
  cmp: VersionComparator;
  kinds: number[];
  values: string[];
  /** values[i] === "0": since the first version (compared lower than anything). */
  zero: boolean[];
}

/** An affected entry ready to evaluate; undefined `ranges` entries are GIT ranges (commits, never an installed version). */
export interface CompiledAffected {
  cmp: VersionComparator;
  ranges: CompiledRange[];
  versions: readonly string[];
}

const NOT_AFFECTED: RangeVerdict = Object.freeze({ affected: false });
const AFFECTED_NO_FIX: RangeVerdict = Object.freeze({ affected: true });

function comparatorForRange(range: OsvRange, ecosystem: string): VersionComparator | undefined {
  if (range.type === 'SEMVER') return compareGoVersions; // SemVer after dropping a `v`/`go` prefix
  if (range.type === 'ECOSYSTEM') return comparatorFor(ecosystem);
  return undefined; // GIT ranges name commits; an installed package has none
}

function compileRange(range: OsvRange, ecosystem: string): CompiledRange | undefined {
  const cmp = comparatorForRange(range, ecosystem);
  if (!cmp) return undefined;
  const events = range.events.map(eventOf).sort((a, b) => {
    // "0" means "since the first version": lowest of all.
    const za = a[1] === '0';
    const zb = b[1] === '0';
    const r = za ? (zb ? 0 : -1) : zb ? 1 : cmp(a[1], b[1]);
    return r || a[0] - b[0];
  });
  return { cmp, kinds: events.map((e) => e[0]), values: events.map((e) => e[1]), zero: events.map((e) => e[1] === '0') };
}

const compiledRanges = new WeakMap<OsvRange, CompiledRange | null>();
const compiledEntries = new WeakMap<OsvAffected, CompiledAffected>();

/** The compiled form of an entry, built on first use (records are immutable once validated). */
export function compileAffected(entry: OsvAffected): CompiledAffected {
  let compiled = compiledEntries.get(entry);
  if (!compiled) {
    const ecosystem = entry.package.ecosystem;
    compiled = {
      cmp: comparatorFor(ecosystem),
      ranges: entry.ranges.map((r) => compileRange(r, ecosystem)).filter((r): r is CompiledRange => r !== undefined),
      versions: entry.versions,
    };
    compiledEntries.set(entry, compiled);
  }
  return compiled;
}

/** One pass over the sorted events, comparing the version with each event once. */
function evaluateCompiled(range: CompiledRange, version: string): RangeVerdict {
  const { cmp, kinds, values, zero } = range;
  let affected = false;
  let fixedVersion: string | undefined;
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i]!;
    const v = values[i]!;
    const c = zero[i] ? 1 : cmp(version, v);
    if (kind === INTRODUCED) {
      if (c >= 0) affected = true;
    } else if (kind === FIXED) {
      if (c >= 0) affected = false;
      // Events are in version order, so the first fix above the version is the lowest one.
      else if (fixedVersion === undefined) fixedVersion = v;
    } else if (kind === LIMIT) {
      if (c >= 0) affected = false;
    } else if (c > 0) affected = false; // last_affected
  }
  if (!affected) return NOT_AFFECTED;
  return fixedVersion === undefined ? AFFECTED_NO_FIX : { affected, fixedVersion };
}

export function evaluateRange(range: OsvRange, ecosystem: string, version: string): RangeVerdict {
  let compiled = compiledRanges.get(range);
  if (compiled === undefined) {
    compiled = compileRange(range, ecosystem) ?? null;
    compiledRanges.set(range, compiled);
  }
  return compiled ? evaluateCompiled(compiled, version) : NOT_AFFECTED;
}

/** Whether `version` is affected by this entry, and the fix to move to when one exists. */
export function evaluateAffected(entry: OsvAffected, version: string): RangeVerdict {
  return evaluateCompiledAffected(compileAffected(entry), version);
}

/** evaluateAffected over an entry compiled beforehand (what matching holds per candidate). */
export function evaluateCompiledAffected(compiled: CompiledAffected, version: string): RangeVerdict {
  let fix: string | undefined;
  let anyAffected = false;
  let unfixed = false;
  for (const range of compiled.ranges) {
    const verdict = evaluateCompiled(range, version);
    if (!verdict.affected) continue;
    anyAffected = true;
    // Several ranges may hold the version: the fix must leave all of them, and one without a fix means none.
    if (verdict.fixedVersion === undefined) unfixed = true;
    else if (fix === undefined || compiled.cmp(verdict.fixedVersion, fix) >= 0) fix = verdict.fixedVersion; // the highest (the last of equals, as a stable sort)
  }
  if (anyAffected) return unfixed || fix === undefined ? AFFECTED_NO_FIX : { affected: true, fixedVersion: fix };
  for (const v of compiled.versions) if (v === version || compiled.cmp(v, version) === 0) return AFFECTED_NO_FIX;
  return NOT_AFFECTED;
}
