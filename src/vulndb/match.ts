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
import { evaluateAffected } from './ranges.js';
import { remediationFor } from './remediation.js';
import { preferRating, rateRecord, type SeverityRating } from './severity.js';
import { baseEcosystem, comparatorFor, versionScheme } from './versions/index.js';

/**
 * Candidate records for (ecosystem without release, normalized package name). A lookup may carry
 * a `memo` that lives as long as its records do (the store's cache): matching then remembers which
 * advisories hit each (package, version, release), so re-matching stored inventories after a
 * database update, or many images sharing base layers, skips the range evaluation.
 */
export type AdvisoryLookup = ((ecosystem: string, key: string) => readonly OsvRecord[]) & { memo?: Map<string, unknown> };

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
  return advisoryEcosystem === imageEcosystem || advisoryEcosystem.startsWith(`${imageEcosystem}:`);
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

/** What to look up for each package; OS packages of an unknown release cannot be matched and are left out. */
export function packageQueries(inventory: ImageInventory): PackageQuery[] {
  const release = osEcosystem(inventory.os);
  const out: PackageQuery[] = [];
  for (const pkg of inventory.packages) {
    const ecosystem = baseEcosystem(pkg.ecosystem);
    const scheme = versionScheme(ecosystem);
    if (!scheme) continue;
    if (OS_SCHEMES.has(scheme)) {
      if (!release || baseEcosystem(release) !== ecosystem) continue;
      // Debian and Alpine advisories name source packages; rpm advisories may name either.
      const names = scheme === 'rpm' ? [pkg.name, pkg.sourceName] : [pkg.sourceName || pkg.name];
      const keys = [...new Set(names.filter((n): n is string => !!n).map((n) => packageKey(ecosystem, n)))];
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

/** Ids that name the same vulnerability: the record's own, its aliases, and a single upstream id. */
function idsOf(record: OsvRecord): string[] {
  // Several upstream ids (a DSA fixing many CVEs) relate the records but do not make them one vulnerability.
  return [record.id, ...record.aliases, ...(record.upstream.length === 1 ? record.upstream : [])];
}

function groupByAlias(hits: Hit[]): Hit[][] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let root = x;
    while (parent.get(root) !== root) root = parent.get(root)!;
    parent.set(x, root);
    return root;
  };
  for (const hit of hits) {
    const ids = idsOf(hit.record);
    for (const id of ids) if (!parent.has(id)) parent.set(id, id);
    for (const id of ids.slice(1)) {
      const a = find(ids[0]!);
      const b = find(id);
      if (a !== b) parent.set(b, a);
    }
  }
  const groups = new Map<string, Hit[]>();
  for (const hit of hits) {
    const root = find(hit.record.id);
    const list = groups.get(root) ?? [];
    list.push(hit);
    groups.set(root, list);
  }
  return [...groups.values()];
}

function toFinding(query: PackageQuery, hits: Hit[]): Finding {
  const { pkg, ecosystem } = query;
  const cmp = comparatorFor(ecosystem);
  const recordIds = [...new Set(hits.map((h) => h.record.id))].sort();
  const primary = recordIds[0]!;
  const allIds = new Set(hits.flatMap((h) => [...idsOf(h.record), ...h.record.upstream]));
  allIds.delete(primary);
  const fixes = hits.map((h) => h.fixedVersion).filter((v): v is string => v !== undefined).sort(cmp);
  const fixedVersion = fixes[fixes.length - 1];
  const status: FindingStatus = fixedVersion ? 'fixed' : hits.some(saysWontFix) ? 'wont-fix' : 'unfixed';
  let rating: SeverityRating | undefined;
  for (const h of hits) {
    const r = rateRecord(h.record, h.entry);
    rating = rating ? preferRating(rating, r) : r;
  }
  const primaryRecord = hits.find((h) => h.record.id === primary)!.record;
  const remediation = remediationFor(ecosystem, pkg.name, status, fixedVersion);
  const finding: Finding = {
    id: primary,
    aliases: [...allIds].sort(),
    title: primaryRecord.summary ?? primary,
    package: {
      name: pkg.name,
      version: pkg.version,
      ecosystem: pkg.ecosystem,
      purl: pkg.purl,
      ...(pkg.sourceName && pkg.sourceName !== pkg.name ? { sourceName: pkg.sourceName } : {}),
      ...(pkg.sourceVersion && pkg.sourceVersion !== pkg.version ? { sourceVersion: pkg.sourceVersion } : {}),
      ...(pkg.layer ? { layer: pkg.layer } : {}),
    },
    installedVersion: pkg.version,
    severity: rating!.severity,
    severitySource: rating!.source,
    status,
    remediation: remediation.text,
    advisoryIds: recordIds,
  };
  if (fixedVersion) finding.fixedVersion = fixedVersion;
  if (rating!.score !== undefined) finding.cvssScore = rating!.score;
  if (rating!.vector !== undefined) finding.cvssVector = rating!.vector;
  if (remediation.command) finding.command = remediation.command;
  return finding;
}

/** Each affected entry's ecosystem (without release) and package key, computed once: matching visits entries many times. */
const entryMetas = new WeakMap<OsvAffected, { ecosystem: string; key: string }>();

function entryMeta(entry: OsvAffected): { ecosystem: string; key: string } {
  let meta = entryMetas.get(entry);
  if (!meta) {
    const ecosystem = baseEcosystem(entry.package.ecosystem);
    meta = { ecosystem, key: packageKey(ecosystem, entry.package.name) };
    entryMetas.set(entry, meta);
  }
  return meta;
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
  return groups.map((group) => toFinding(query, group));
}

function findHits(query: PackageQuery, lookup: AdvisoryLookup): Hit[] {
  const hits: Hit[] = [];
  const seen = new Set<string>();
  for (const key of query.keys) {
    for (const record of lookup(query.ecosystem, key)) {
      if (record.withdrawn || seen.has(record.id)) continue;
      for (const entry of record.affected) {
        const meta = entryMeta(entry);
        if (meta.ecosystem !== query.ecosystem || meta.key !== key) continue;
        if (query.release && !releaseMatches(entry.package.ecosystem, query.release)) continue;
        const verdict = evaluateAffected(entry, query.version);
        if (!verdict.affected) continue;
        seen.add(record.id);
        hits.push(verdict.fixedVersion ? { record, entry, fixedVersion: verdict.fixedVersion } : { record, entry });
        break;
      }
    }
  }
  return hits;
}

/** Every finding for an inventory, sorted by package name, then id. */
export function matchPackages(inventory: ImageInventory, lookup: AdvisoryLookup): Finding[] {
  const findings = packageQueries(inventory).flatMap((q) => matchQuery(q, lookup));
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

  readonly lookup: AdvisoryLookup = (ecosystem, key) => this.byKey.get(indexKey(ecosystem, key)) ?? [];
}

export function indexKey(ecosystem: string, key: string): string {
  return `${ecosystem}\u0000${key}`;
}
