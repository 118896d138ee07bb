/**
 * Severity of a vulnerability from an OSV record: the distribution's or advisory database's own
 * rating first (vendors know how their build is exposed), then CVSS vectors scored with
 * ae-cvss-calculator (newest version first: v4, v3.1, v3.0, v2), else `unknown`. The source is
 * reported with the level so users can see why.
 */
import type cvssLibraryType from 'ae-cvss-calculator';
import { lazyModule, severityRank, type FindingSeverity, type Severity } from '../core/index.js';
import type { OsvAffected, OsvRecord } from './osv.js';

/** Loaded when a vector is first scored (building the advisory file), not by every scan that only matches: ~60 ms. */
const cvssLibrary = lazyModule<typeof cvssLibraryType>('ae-cvss-calculator');

export interface SeverityRating {
  severity: FindingSeverity;
  /** e.g. `Debian`, `Ubuntu`, `GHSA`, `CVSS_V3`, `none`. */
  source: string;
  score?: number;
  vector?: string;
}

const WORDS: Record<string, Severity> = {
  critical: 'critical',
  important: 'high',
  high: 'high',
  moderate: 'medium',
  medium: 'medium',
  low: 'low',
  negligible: 'informational',
  unimportant: 'informational',
  none: 'informational',
  informational: 'informational',
};

export function severityFromWord(word: unknown): Severity | undefined {
  return typeof word === 'string' ? WORDS[word.trim().toLowerCase()] : undefined;
}

/** CVSS v3/v4 qualitative bands; v2 has no critical band. */
export function severityFromScore(score: number, version: 2 | 3 | 4): Severity {
  if (score === 0) return 'informational';
  if (version === 2) return score >= 7 ? 'high' : score >= 4 ? 'medium' : 'low';
  return score >= 9 ? 'critical' : score >= 7 ? 'high' : score >= 4 ? 'medium' : 'low';
}

/** Scores one vector; undefined when it is not a complete, valid base vector. */
export function scoreCvss(vector: string): { score: number; version: 2 | 3 | 4 } | undefined {
  try {
    const v = vector.trim();
    const { Cvss2, Cvss3P0, Cvss3P1, Cvss4P0 } = cvssLibrary();
    let calc: InstanceType<typeof Cvss2> | InstanceType<typeof Cvss3P1> | InstanceType<typeof Cvss3P0> | InstanceType<typeof Cvss4P0>;
    let version: 2 | 3 | 4;
    if (v.startsWith('CVSS:4.0/')) [calc, version] = [new Cvss4P0(v), 4];
    else if (v.startsWith('CVSS:3.1/')) [calc, version] = [new Cvss3P1(v), 3];
    else if (v.startsWith('CVSS:3.0/')) [calc, version] = [new Cvss3P0(v), 3];
    else if (/^(\(?AV:)/.test(v)) [calc, version] = [new Cvss2(v.replace(/^\(|\)$/g, '')), 2];
    else return undefined;
    if (!calc.isBaseFullyDefined()) return undefined;
    const score = calc.calculateScores().base;
    return typeof score === 'number' && Number.isFinite(score) ? { score, version } : undefined;
  } catch {
    return undefined;
  }
}

const CVSS_PREFERENCE = ['CVSS_V4', 'CVSS_V3', 'CVSS_V2'];

/** The source's own word, looked up where OSV producers put it. */
function vendorRating(record: OsvRecord, affected: OsvAffected | undefined, ecosystemBase: string): SeverityRating | undefined {
  const places: Array<Record<string, unknown> | undefined> = [affected?.ecosystem_specific, affected?.database_specific, record.database_specific];
  for (const place of places) {
    for (const key of ['severity', 'urgency']) {
      const level = severityFromWord(place?.[key]);
      if (level) return { severity: level, source: vendorName(record, ecosystemBase) };
    }
  }
  // Ubuntu publishes its priority as a severity entry of type "Ubuntu".
  for (const s of [...(affected?.severity ?? []), ...record.severity]) {
    if (s.type === 'Ubuntu') {
      const level = severityFromWord(s.score);
      if (level) return { severity: level, source: 'Ubuntu' };
    }
  }
  return undefined;
}

function vendorName(record: OsvRecord, ecosystemBase: string): string {
  if (record.id.startsWith('GHSA-')) return 'GHSA';
  return ecosystemBase || record.id.split('-')[0] || 'vendor';
}

function cvssRating(record: OsvRecord, affected: OsvAffected | undefined): SeverityRating | undefined {
  const entries = [...(affected?.severity ?? []), ...record.severity];
  for (const type of CVSS_PREFERENCE) {
    for (const s of entries) {
      if (s.type !== type) continue;
      const scored = scoreCvss(s.score);
      if (scored) return { severity: severityFromScore(scored.score, scored.version), source: type, score: scored.score, vector: s.score };
    }
  }
  return undefined;
}

/** Scoring a vector builds a calculator: rate each (record, affected entry) once. */
const ratings = new WeakMap<object, SeverityRating>();

export function rateRecord(record: OsvRecord, affected?: OsvAffected): SeverityRating {
  const key = affected ?? record;
  const cached = ratings.get(key);
  if (cached && (!affected || ratingsRecord.get(affected) === record)) return cached;
  const base = affected ? affected.package.ecosystem.split(':')[0]! : '';
  const rating = vendorRating(record, affected, base) ?? cvssRating(record, affected) ?? { severity: 'unknown', source: 'none' };
  ratings.set(key, rating);
  if (affected) ratingsRecord.set(affected, record);
  return rating;
}

const ratingsRecord = new WeakMap<OsvAffected, OsvRecord>();

const SOURCE_RANK = (r: SeverityRating): number => (r.source === 'none' ? 0 : r.source.startsWith('CVSS_') ? 1 : 2);

/** For merged aliases: a vendor rating beats a CVSS score beats nothing; ties go to the more severe. */
export function preferRating(a: SeverityRating, b: SeverityRating): SeverityRating {
  const sa = SOURCE_RANK(a);
  const sb = SOURCE_RANK(b);
  if (sa !== sb) return sa > sb ? a : b;
  return severityRank(b.severity) > severityRank(a.severity) ? b : a;
}
