/**
 * OSV records (https://ossf.github.io/osv-schema/): the parts matching needs, and validation that
 * turns every problem into a counted warning naming the file and record instead of an exception,
 * because one bad record in a 400,000-record archive must not stop an import.
 */
import { isKnownEcosystem, isStrictSemver, normalizeGoVersion } from './versions/index.js';

export type RangeType = 'ECOSYSTEM' | 'SEMVER' | 'GIT';

export interface OsvEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
  limit?: string;
}

export interface OsvRange {
  type: RangeType;
  events: OsvEvent[];
}

export interface OsvSeverity {
  type: string;
  score: string;
}

export interface OsvAffected {
  package: { ecosystem: string; name: string; purl?: string };
  ranges: OsvRange[];
  versions: string[];
  severity?: OsvSeverity[];
  ecosystem_specific?: Record<string, unknown>;
  database_specific?: Record<string, unknown>;
}

/** A validated record, trimmed to what matching and display need (details are not kept). */
export interface OsvRecord {
  id: string;
  modified: string;
  published?: string;
  withdrawn?: string;
  aliases: string[];
  upstream: string[];
  summary?: string;
  severity: OsvSeverity[];
  affected: OsvAffected[];
  database_specific?: Record<string, unknown>;
}

export type WarningCode =
  | 'invalid-json'
  | 'invalid-record'
  | 'unknown-ecosystem'
  | 'malformed-range'
  | 'corrupt-archive'
  | 'unreadable-file';

export interface ImportWarning {
  code: WarningCode;
  file: string;
  id?: string;
  message: string;
}

export interface ValidationResult {
  record?: OsvRecord;
  warnings: ImportWarning[];
}

const EVENT_KEYS = ['introduced', 'fixed', 'last_affected', 'limit'] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v !== '') : [];
}

/** Why a range is unusable, or undefined when it is fine. */
function rangeProblem(range: unknown): string | undefined {
  if (!isObject(range)) return 'range is not an object';
  const type = range.type;
  if (type !== 'ECOSYSTEM' && type !== 'SEMVER' && type !== 'GIT') return `unknown range type ${JSON.stringify(type)}`;
  if (!Array.isArray(range.events) || range.events.length === 0) return 'range has no events';
  let introduced = 0;
  for (const event of range.events) {
    if (!isObject(event)) return 'event is not an object';
    const keys = Object.keys(event);
    if (keys.length !== 1 || !(EVENT_KEYS as readonly string[]).includes(keys[0]!)) {
      return `event must have exactly one of ${EVENT_KEYS.join(', ')}: ${JSON.stringify(event)}`;
    }
    const value = event[keys[0]!];
    if (typeof value !== 'string' || value === '') return `event ${keys[0]} is not a non-empty string`;
    if (keys[0] === 'introduced') introduced++;
    if (type === 'SEMVER' && !(keys[0] === 'introduced' && value === '0') && !isStrictSemver(normalizeGoVersion(value))) {
      return `SEMVER event ${keys[0]} ${JSON.stringify(value)} is not a semantic version`;
    }
  }
  if (introduced === 0) return 'range has no introduced event';
  return undefined;
}

/** Checks one parsed JSON value; `file` names where it came from in warnings. */
export function validateOsvRecord(raw: unknown, file: string): ValidationResult {
  const warnings: ImportWarning[] = [];
  if (!isObject(raw)) {
    return { warnings: [{ code: 'invalid-record', file, message: 'record is not a JSON object' }] };
  }
  const id = typeof raw.id === 'string' && raw.id.trim() !== '' ? raw.id : undefined;
  if (!id) return { warnings: [{ code: 'invalid-record', file, message: 'record has no id' }] };
  const modified = typeof raw.modified === 'string' ? raw.modified : undefined;
  if (!modified || Number.isNaN(Date.parse(modified))) {
    return { warnings: [{ code: 'invalid-record', file, id, message: `record has no valid modified time (${JSON.stringify(raw.modified)})` }] };
  }
  const affectedIn = raw.affected === undefined ? [] : raw.affected;
  if (!Array.isArray(affectedIn)) {
    return { warnings: [{ code: 'invalid-record', file, id, message: 'affected is not an array' }] };
  }
  const affected: OsvAffected[] = [];
  for (const [i, entry] of affectedIn.entries()) {
    if (!isObject(entry) || !isObject(entry.package)) {
      // Affected entries without a package describe git repositories only; nothing to match.
      if (isObject(entry) && entry.package === undefined) continue;
      warnings.push({ code: 'invalid-record', file, id, message: `affected[${i}] has no package` });
      continue;
    }
    const ecosystem = entry.package.ecosystem;
    const name = entry.package.name;
    if (typeof ecosystem !== 'string' || typeof name !== 'string' || name === '') {
      warnings.push({ code: 'invalid-record', file, id, message: `affected[${i}].package needs ecosystem and name` });
      continue;
    }
    if (!isKnownEcosystem(ecosystem)) {
      warnings.push({ code: 'unknown-ecosystem', file, id, message: `affected[${i}] has unknown ecosystem ${JSON.stringify(ecosystem)}` });
      continue;
    }
    const rangesIn = entry.ranges === undefined ? [] : entry.ranges;
    if (!Array.isArray(rangesIn)) {
      warnings.push({ code: 'malformed-range', file, id, message: `affected[${i}].ranges is not an array` });
      continue;
    }
    const problems = rangesIn.map(rangeProblem);
    const bad = problems.findIndex((p) => p !== undefined);
    if (bad >= 0) {
      // A package with one unreadable range cannot be judged safely: skip the whole entry.
      warnings.push({ code: 'malformed-range', file, id, message: `affected[${i}] (${name}) ranges[${bad}]: ${problems[bad]}` });
      continue;
    }
    const versions = stringList(entry.versions);
    const ranges = (rangesIn as OsvRange[]).map((r) => ({ type: r.type, events: r.events.map((e) => ({ ...e })) }));
    if (ranges.length === 0 && versions.length === 0) {
      warnings.push({ code: 'malformed-range', file, id, message: `affected[${i}] (${name}) has neither ranges nor versions` });
      continue;
    }
    const out: OsvAffected = {
      package: { ecosystem, name, ...(typeof entry.package.purl === 'string' ? { purl: entry.package.purl } : {}) },
      ranges,
      versions,
    };
    const severity = severityList(entry.severity);
    if (severity.length) out.severity = severity;
    const ecosystemSpecific = isObject(entry.ecosystem_specific) ? pickDatabaseSpecific(entry.ecosystem_specific) : {};
    const databaseSpecific = isObject(entry.database_specific) ? pickDatabaseSpecific(entry.database_specific) : {};
    if (Object.keys(ecosystemSpecific).length) out.ecosystem_specific = ecosystemSpecific;
    if (Object.keys(databaseSpecific).length) out.database_specific = databaseSpecific;
    affected.push(out);
  }
  const withdrawn = typeof raw.withdrawn === 'string' ? raw.withdrawn : undefined;
  if (affected.length === 0 && affectedIn.length > 0 && !withdrawn) {
    return { warnings: [...warnings, { code: 'invalid-record', file, id, message: 'no usable affected package; record skipped' }] };
  }
  const record: OsvRecord = {
    id,
    modified: new Date(modified).toISOString(),
    aliases: stringList(raw.aliases),
    upstream: stringList(raw.upstream),
    severity: severityList(raw.severity),
    affected,
  };
  if (typeof raw.published === 'string') record.published = raw.published;
  if (withdrawn) record.withdrawn = withdrawn;
  if (typeof raw.summary === 'string' && raw.summary) record.summary = raw.summary;
  else if (typeof raw.details === 'string' && raw.details) record.summary = firstLine(raw.details);
  if (isObject(raw.database_specific)) record.database_specific = pickDatabaseSpecific(raw.database_specific);
  return { record, warnings };
}

function severityList(value: unknown): OsvSeverity[] {
  if (!Array.isArray(value)) return [];
  return value.filter((s): s is OsvSeverity => isObject(s) && typeof s.type === 'string' && typeof s.score === 'string');
}

function firstLine(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

/** Keep only what severity and status need: the rest (CWE lists, URLs, ...) is not worth storing. */
function pickDatabaseSpecific(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ['severity', 'status', 'urgency', 'fix_status']) if (value[key] !== undefined) out[key] = value[key];
  return out;
}

/** Parses JSON text holding one record or an array of records (osv.dev exports both). */
export function parseOsvJson(text: string, file: string): ValidationResult[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return [{ warnings: [{ code: 'invalid-json', file, message: `invalid JSON: ${(error as Error).message}` }] }];
  }
  const list = Array.isArray(value) ? value : [value];
  return list.map((v) => validateOsvRecord(v, file));
}
