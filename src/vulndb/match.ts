/**
 * Matching an image inventory against OSV advisories (Trivy's "detector"): pure functions over a
 * lookup of candidate records, so the same code serves the database, tests and benchmarks.
 *
 * Rules users of Trivy and Grype rely on:
 * - OS packages (dpkg, apk, rpm) are matched by their source package, only against advisories of
 *   the image's own distribution release (`Debian:12` for a Debian 12 image): vendors backport fixes,
 *   so upstream or language advisories would be wrong for them.
 * - Records that are aliases of one another become one finding per package, listing every id.
 */
import type { Finding, FindingStatus, ImageInventory, InstalledPackage, OperatingSystem } from '../core/index.js';
import type { OsvAffected, OsvRecord } from './osv.js';
import { compileAffected, evaluateCompiledAffected, type CompiledAffected } from './ranges.js';
import { remediationFor } from './remediation.js';
import { preferRating, rateRecord, type SeverityRating } from './severity.js';
import { baseEcosystem, comparatorFor, versionScheme } from './versions/index.js';
import { BoundedCache } from './versions/memo.js';

/**
 * Candidate records for (ecosystem without release, normalized package name). A lookup may carry
 * a `memo` that lives as long as its records do (the store's cache): matching then remembers which
 * advisories hit each (package, version, release), so re-matching stored inventories after a
 * database update, or many images sharing base layers, skips the range evaluation.
 */
export type AdvisoryLookup = ((ecosystem: string, key: string) => readonly OsvRecord[]) & {
  memo?: Map<string, unknown>;
  /** The same records as affected entries ready to evaluate (see withCandidates): matching prefers it. */
  candidates?: (ecosystem: string, key: string) => readonly Candidate[];
};

/** One affected entry of a candidate record for (ecosystem, key), compiled for evaluation. */
export interface Candidate {
  record: OsvRecord;
  entry: OsvAffected;
  /** The entry's ecosystem with its release (`Debian:12`). */
  release: string;
  compiled: CompiledAffected;
}

/** Package names as the ecosystem compares them (PEP 503 for PyPI, case-insensitive NuGet/Packagist). */
export function packageKey(ecosystem: string, name: string): string {
  switch (baseEcosystem(ecosystem)) {
    case 'PyPI':
      return name.toLowerCase().replace(/[-_.]+/g, '-');
    case 'NuGet':
    case 'Packagist':
      return name.toLowerCase();
    default:
      return name;
  }
}

const OS_SCHEMES = new Set(['dpkg', 'apk', 'rpm']);

export function isOsPackage(pkg: Pick<InstalledPackage, 'ecosystem'>): boolean {
  const scheme = versionScheme(pkg.ecosystem);
  return scheme !== undefined && OS_SCHEMES.has(scheme);
}

/** The OSV ecosystem of an OS release when the inventory does not name it (`Debian:12`, `Alpine:v3.19`). */
export function osEcosystem(os: OperatingSystem | undefined): string | undefined {
  if (!os) return undefined;
  if (os.ecosystem) return os.ecosystem;
  const parts = os.version.split('.');
  const major = parts[0] ?? '';
  const majorMinor = parts.slice(0, 2).join('.');
  switch (os.id) {
    case 'debian':
      return major ? `Debian:${major}` : undefined;
    case 'ubuntu':
      return os.version ? `Ubuntu:${os.version}` : undefined;
    case 'alpine':
      return majorMinor ? `Alpine:v${majorMinor}` : undefined;
    case 'wolfi':
      return 'Wolfi';
    case 'chainguard':
      return 'Chainguard';
    case 'almalinux':
      return `AlmaLinux:${major}`;
    case 'rocky':
      return `Rocky Linux:${major}`;
    case 'rhel':
      return `Red Hat:enterprise_linux:${major}`;
    case 'azurelinux':
      return `Azure Linux:${majorMinor}`;
    case 'mariner':
      return `Mariner:${majorMinor}`;
    case 'amzn':
      return `Amazon Linux:${os.version}`;
    case 'opensuse-leap':
      return `openSUSE:Leap ${os.version}`;
    case 'sles':
      return `SUSE:Linux Enterprise Server ${os.version.replace('.', ' SP')}`;
    default:
      return undefined;
  }
}

/** `Debian:12` matches advisories for `Debian:12` (and `Ubuntu:22.04` those for `Ubuntu:22.04:LTS`). */
export function releaseMatches(advisoryEcosystem: string, imageEcosystem: string): boolean {
  if (advisoryEcosystem === imageEcosystem) return true;
  // Without building `${imageEcosystem}:` for every candidate.
  return advisoryEcosystem.length > imageEcosystem.length && advisoryEcosystem.charCodeAt(imageEcosystem.length) === 58 && advisoryEcosystem.startsWith(imageEcosystem);
}

export interface PackageQuery {
  pkg: InstalledPackage;
  ecosystem: string;
  keys: string[];
  /** For OS packages: the release ecosystem advisories must belong to. */
  release?: string;
  /** The version compared with advisory ranges. */
  version: string;
}

/** Per ecosystem name as inventories spell it: the base ecosystem and its version scheme (asked for every package). */
const ecosystemInfo = new BoundedCache<string, { ecosystem: string; scheme: string | undefined }>(1000);

function infoOf(ecosystem: string): { ecosystem: string; scheme: string | undefined } {
  return ecosystemInfo.get(ecosystem, ecosystemInfoOf);
}

function ecosystemInfoOf(ecosystem: string): { ecosystem: string; scheme: string | undefined } {
  const base = baseEcosystem(ecosystem);
  return { ecosystem: base, scheme: versionScheme(base) };
}

/** What to look up for each package; OS packages of an unknown release cannot be matched and are left out. */
export function packageQueries(inventory: ImageInventory): PackageQuery[] {
  const release = osEcosystem(inventory.os);
  const releaseBase = release === undefined ? undefined : baseEcosystem(release);
  const out: PackageQuery[] = [];
  for (const pkg of inventory.packages) {
    const { ecosystem, scheme } = infoOf(pkg.ecosystem);
    if (!scheme) continue;
    if (OS_SCHEMES.has(scheme)) {
      if (!release || releaseBase !== ecosystem) continue;
      // Debian and Alpine advisories name source packages; rpm advisories may name either.
      let keys: string[];
      if (scheme === 'rpm') {
        const a = pkg.name ? packageKey(ecosystem, pkg.name) : undefined;
        const b = pkg.sourceName ? packageKey(ecosystem, pkg.sourceName) : undefined;
        keys = a === undefined ? (b === undefined ? [] : [b]) : b === undefined || b === a ? [a] : [a, b];
      } else {
        const name = pkg.sourceName || pkg.name;
        keys = name ? [packageKey(ecosystem, name)] : [];
      }
      const version = scheme === 'dpkg' ? pkg.sourceVersion || pkg.version : pkg.version;
      out.push({ pkg, ecosystem, keys, release, version });
    } else {
      out.push({ pkg, ecosystem, keys: [packageKey(ecosystem, pkg.name)], version: pkg.version });
    }
  }
  return out;
}

interface Hit {
  record: OsvRecord;
  entry: OsvAffected;
  fixedVersion?: string;
}

const WONT_FIX = /will[\s_-]*not[\s_-]*fix|won'?t[\s_-]*fix|wont[\s_-]*fix|ignored|end[\s_-]*of[\s_-]*life|out[\s_-]*of[\s_-]*support|not[\s_-]*fixable/i;

function saysWontFix(hit: Hit): boolean {
  for (const place of [hit.entry.ecosystem_specific, hit.entry.database_specific, hit.record.database_specific]) {
    for (const key of ['status', 'fix_status']) {
      const v = place?.[key];
      if (typeof v === 'string' && WONT_FIX.test(v)) return true;
    }
  }
  return false;
}

/** What matching needs of a record, derived once per record object (records are immutable once validated). */
interface RecordMeta {
  /** Ids that name the same vulnerability: the record's own, its aliases, and a single upstream id. */
  ids: string[];
  /** Those and every upstream id: what a finding lists as aliases. */
  related: string[];
  /** Per affected entry: ecosystem without release and package key. */
  entries: Array<{ entry: OsvAffected; ecosystem: string; key: string }>;
}

const recordMetas = new WeakMap<OsvRecord, RecordMeta>();

function metaOf(record: OsvRecord): RecordMeta {
  let meta = recordMetas.get(record);
  if (!meta) {
    // Several upstream ids (a DSA fixing many CVEs) relate the records but do not make them one vulnerability.
    const ids = [record.id, ...record.aliases, ...(record.upstream.length === 1 ? record.upstream : [])];
    meta = {
      ids,
      related: [...ids, ...record.upstream],
      entries: record.affected.map((entry) => {
        const ecosystem = baseEcosystem(entry.package.ecosystem);
        return { entry, ecosystem, key: packageKey(ecosystem, entry.package.name) };
      }),
    };
    recordMetas.set(record, meta);
  }
  return meta;
}

function findRoot(parent: Map<string, string>, x: string): string {
  let root = x;
  while (parent.get(root) !== root) root = parent.get(root)!;
  parent.set(x, root);
  return root;
}

function groupByAlias(hits: Hit[]): Hit[][] {
  // Most packages have no finding or one: no union-find for them.
  if (hits.length <= 1) return hits.length === 0 ? [] : [hits];
  const parent = new Map<string, string>();
  for (const hit of hits) {
    const ids = metaOf(hit.record).ids;
    for (const id of ids) if (!parent.has(id)) parent.set(id, id);
    const first = ids[0]!;
    for (let i = 1; i < ids.length; i++) {
      const a = findRoot(parent, first);
      const b = findRoot(parent, ids[i]!);
      if (a !== b) parent.set(b, a);
    }
  }
  const groups = new Map<string, Hit[]>();
  for (const hit of hits) {
    const root = findRoot(parent, hit.record.id);
    const list = groups.get(root);
    if (list) list.push(hit);
    else groups.set(root, [hit]);
  }
  return [...groups.values()];
}

function toFinding(query: PackageQuery, hits: Hit[]): Finding {
  const { pkg, ecosystem } = query;
  let recordIds: string[];
  let primaryRecord: OsvRecord;
  let allIds: Set<string>;
  let fixedVersion: string | undefined;
  let rating: SeverityRating;
  if (hits.length === 1) {
    const hit = hits[0]!;
    primaryRecord = hit.record;
    recordIds = [primaryRecord.id];
    allIds = new Set(metaOf(primaryRecord).related);
    fixedVersion = hit.fixedVersion;
    rating = rateRecord(hit.record, hit.entry);
  } else {
    recordIds = [...new Set(hits.map((h) => h.record.id))].sort();
    primaryRecord = hits.find((h) => h.record.id === recordIds[0])!.record;
    allIds = new Set(hits.flatMap((h) => metaOf(h.record).related));
    const cmp = comparatorFor(ecosystem);
    const fixes = hits.map((h) => h.fixedVersion).filter((v): v is string => v !== undefined).sort(cmp);
    fixedVersion = fixes[fixes.length - 1];
    rating = rateRecord(hits[0]!.record, hits[0]!.entry);
    for (let i = 1; i < hits.length; i++) rating = preferRating(rating, rateRecord(hits[i]!.record, hits[i]!.entry));
  }
  const primary = primaryRecord.id;
  allIds.delete(primary);
  const status: FindingStatus = fixedVersion ? 'fixed' : hits.some(saysWontFix) ? 'wont-fix' : 'unfixed';
  const remediation = remediationFor(ecosystem, pkg.name, status, fixedVersion);
  const found: Finding['package'] = { name: pkg.name, version: pkg.version, ecosystem: pkg.ecosystem, purl: pkg.purl };
  if (pkg.sourceName && pkg.sourceName !== pkg.name) found.sourceName = pkg.sourceName;
  if (pkg.sourceVersion && pkg.sourceVersion !== pkg.version) found.sourceVersion = pkg.sourceVersion;
  if (pkg.layer) found.layer = pkg.layer;
  const finding: Finding = {
    id: primary,
    aliases: allIds.size === 0 ? [] : [...allIds].sort(),
    title: primaryRecord.summary ?? primary,
    package: found,
    installedVersion: pkg.version,
    severity: rating.severity,
    severitySource: rating.source,
    status,
    remediation: remediation.text,
    advisoryIds: recordIds,
  };
  if (fixedVersion) finding.fixedVersion = fixedVersion;
  if (rating.score !== undefined) finding.cvssScore = rating.score;
  if (rating.vector !== undefined) finding.cvssVector = rating.vector;
  if (remediation.command) finding.command = remediation.command;
  return finding;
}

/** Findings for one package query. */
export function matchQuery(query: PackageQuery, lookup: AdvisoryLookup): Finding[] {
  const memoKey = lookup.memo ? `${query.ecosystem}\u0000${query.release ?? ''}\u0000${query.version}\u0000${query.keys.join('\u0000')}` : '';
  let groups = lookup.memo?.get(memoKey) as Hit[][] | undefined;
  if (!groups) {
    groups = groupByAlias(findHits(query, lookup));
    if (lookup.memo) {
      if (lookup.memo.size >= 100_000) lookup.memo.clear();
      lookup.memo.set(memoKey, groups);
    }
  }
  return groups.length === 0 ? [] : groups.map((group) => toFinding(query, group));
}

function findHits(query: PackageQuery, lookup: AdvisoryLookup): Hit[] {
  if (!lookup.candidates) return findHitsInRecords(query, lookup);
  const hits: Hit[] = [];
  // Only a package looked up under two names can meet one record twice.
  const seen = query.keys.length > 1 ? new Set<string>() : undefined;
  const { release, version } = query;
  for (const key of query.keys) {
    // A record counts once, by its first affected entry that holds the version (a record's entries are consecutive).
    let hitRecord: OsvRecord | undefined;
    for (const c of lookup.candidates(query.ecosystem, key)) {
      if (c.record === hitRecord || (seen !== undefined && seen.has(c.record.id))) continue;
      if (release && !releaseMatches(c.release, release)) continue;
      const verdict = evaluateCompiledAffected(c.compiled, version);
      if (!verdict.affected) continue;
      hitRecord = c.record;
      seen?.add(c.record.id);
      hits.push(verdict.fixedVersion ? { record: c.record, entry: c.entry, fixedVersion: verdict.fixedVersion } : { record: c.record, entry: c.entry });
    }
  }
  return hits;
}

function findHitsInRecords(query: PackageQuery, lookup: AdvisoryLookup): Hit[] {
  const hits: Hit[] = [];
  const seen = new Set<string>();
  for (const key of query.keys) {
    for (const record of lookup(query.ecosystem, key)) {
      if (seen.has(record.id)) continue;
      for (const c of candidatesOf(record, query.ecosystem, key)) {
        if (query.release && !releaseMatches(c.release, query.release)) continue;
        const verdict = evaluateCompiledAffected(c.compiled, query.version);
        if (!verdict.affected) continue;
        seen.add(record.id);
        hits.push(verdict.fixedVersion ? { record, entry: c.entry, fixedVersion: verdict.fixedVersion } : { record, entry: c.entry });
        break;
      }
    }
  }
  return hits;
}

/** The entries of a record for (ecosystem, key), compiled; none for a withdrawn record. */
function candidatesOf(record: OsvRecord, ecosystem: string, key: string): Candidate[] {
  if (record.withdrawn) return [];
  const out: Candidate[] = [];
  for (const e of metaOf(record).entries) {
    if (e.key === key && e.ecosystem === ecosystem) out.push({ record, entry: e.entry, release: e.entry.package.ecosystem, compiled: compileAffected(e.entry) });
  }
  return out;
}

/**
 * Gives a record lookup a `candidates` view: per (ecosystem, key) the matching entries, compiled once
 * and kept (up to `max` keys, then afresh), so matching a package walks only entries that can hold it.
 */
export function withCandidates(records: (ecosystem: string, key: string) => readonly OsvRecord[], memo?: Map<string, unknown>, max = 50_000): AdvisoryLookup {
  const cache = new BoundedCache<string, Candidate[]>(max);
  const candidates = (ecosystem: string, key: string): Candidate[] =>
    cache.get(indexKey(ecosystem, key), () => {
      const list: Candidate[] = [];
      for (const record of records(ecosystem, key)) for (const c of candidatesOf(record, ecosystem, key)) list.push(c);
      return list;
    });
  const lookup: AdvisoryLookup = Object.assign((ecosystem: string, key: string) => records(ecosystem, key), { candidates });
  if (memo) lookup.memo = memo;
  return lookup;
}

/** Every finding for an inventory, sorted by package name, then id. */
export function matchPackages(inventory: ImageInventory, lookup: AdvisoryLookup): Finding[] {
  const findings: Finding[] = [];
  for (const q of packageQueries(inventory)) for (const f of matchQuery(q, lookup)) findings.push(f);
  return findings.sort((a, b) => (a.package.name < b.package.name ? -1 : a.package.name > b.package.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** An in-memory lookup over records (tests, benchmarks, and the store's cache). */
export class AdvisoryIndex {
  private readonly byKey = new Map<string, OsvRecord[]>();

  constructor(records: Iterable<OsvRecord> = []) {
    for (const r of records) this.add(r);
  }

  add(record: OsvRecord): void {
    const keys = new Set(record.affected.map((a) => indexKey(baseEcosystem(a.package.ecosystem), packageKey(a.package.ecosystem, a.package.name))));
    for (const k of keys) {
      const list = this.byKey.get(k) ?? [];
      list.push(record);
      this.byKey.set(k, list);
    }
  }

  readonly lookup: AdvisoryLookup = withCandidates((ecosystem, key) => this.byKey.get(indexKey(ecosystem, key)) ?? []);
}

export function indexKey(ecosystem: string, key: string): string {
  return `${ecosystem}\u0000${key}`;
}
