import { readFile } from 'node:fs/promises';
import { FINDING_SEVERITIES, isFindingSeverity, PalisadeError, type Finding, type FindingSeverity, type InstalledPackage, type OperatingSystem } from '../core/index.js';
import type { ImageIdentity, VexStatement } from '../vex/index.js';
import type { ImageDescription } from './scan.js';

/**
 * The scan report: what `palisade scan --format json` prints (docs/scan-json.md) and what every
 * other format is rendered from. Filters (severity, unfixed, VEX) apply here, once, so all formats
 * and the exit code agree.
 */

export interface SuppressedFinding {
  id: string;
  package: { name: string; version: string; ecosystem: string; purl: string };
  /** `vex:not_affected`, `vex:fixed`, `severity` or `unfixed`. */
  reason: string;
  justification?: string;
}

export interface ScanReport {
  schemaVersion: 1;
  image: ImageDescription;
  os: OperatingSystem | null;
  packages: InstalledPackage[];
  vulnerabilities: Finding[];
  /** Findings the filters removed, and why. */
  suppressed: SuppressedFinding[];
  summary: Record<FindingSeverity, number> & { total: number; packages: number };
  /** False when no advisory database was consulted (packages only). */
  matched: boolean;
  warnings: string[];
}

export function summarize(findings: readonly Finding[], packages: number): ScanReport['summary'] {
  const summary = { critical: 0, high: 0, medium: 0, low: 0, informational: 0, unknown: 0, total: findings.length, packages };
  for (const f of findings) summary[f.severity]++;
  return summary;
}

export function parseSeverityList(value: string): FindingSeverity[] {
  const list = value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const bad = list.filter((s) => !isFindingSeverity(s));
  if (bad.length || list.length === 0) {
    throw new PalisadeError('scan.severity.invalid', `unknown severity "${bad.join(', ') || value}"`, { field: 'severity', hint: `use a comma-separated list of ${FINDING_SEVERITIES.join(', ')}` });
  }
  return list as FindingSeverity[];
}

export type { VexStatement } from '../vex/index.js';

/** The statements of a `scan --vex` document, with the matching that decides which one speaks for a finding. */
export interface VexFilter {
  readonly statements: readonly VexStatement[];
  /** The `not_affected` or `fixed` statement that speaks for this finding of this image, if the latest one that speaks for it is such. */
  suppressing(finding: Finding, image: ImageDescription): VexStatement | undefined;
}

/**
 * Reads an OpenVEX document (v0.0.1 and v0.2.0 shapes) for `scan --vex`, with the parser the
 * center uses for uploads (src/vex) in its lenient mode: a hand-written document needs only its
 * statements. src/vex (its schema validator above all) is loaded here, only when a scan is given
 * a document, so a plain scan does not pay for loading it.
 */
export async function readVex(file: string): Promise<VexFilter> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new PalisadeError('scan.vex.invalid', `cannot read VEX document ${file}: ${(error as Error).message}`, { field: 'vex', hint: 'give an OpenVEX JSON document (https://openvex.dev)' });
  }
  const vex = await import('../vex/index.js');
  const statements = vex.parseVexText(text, { strict: false, source: file }).statements;
  const attributed = statements.map((statement, order) => ({ statement, documentId: '', author: '', order }));
  const identities = new WeakMap<ImageDescription, ImageIdentity>();
  return {
    statements,
    suppressing(finding, image) {
      let identity = identities.get(image);
      if (!identity) identities.set(image, (identity = identityOf(image, vex.normalizeRepository)));
      // The latest statement that speaks for the finding decides (a later `affected` re-enables it).
      const latest = vex.effectiveStatement(attributed, finding, identity)?.statement;
      return latest && vex.isSuppressing(latest.status) ? latest : undefined;
    },
  };
}

/** Transports whose image has no registry repository a VEX product could name. */
const LOCAL_TRANSPORTS = /^(oci|oci-archive|docker-archive|dir|containers-storage|tarball|docker-daemon):/;

/** What the scanned image is known by: its digests, and its repository and tag when it came from a registry. */
function identityOf(image: ImageDescription, normalizeRepository: (repository: string) => string): ImageIdentity {
  const identity: ImageIdentity = { digests: [image.digest, image.id].filter((d): d is string => !!d), repositories: [], tags: [], ...(image.platform ? { platform: image.platform } : {}) };
  const name = image.name.replace(/^docker:\/\//, '');
  if (LOCAL_TRANSPORTS.test(name)) return identity;
  let path = name.split('@')[0]!;
  const colon = path.lastIndexOf(':');
  if (colon > path.lastIndexOf('/')) {
    identity.tags.push(path.slice(colon + 1));
    path = path.slice(0, colon);
  }
  if (path) identity.repositories.push(normalizeRepository(path));
  return identity;
}

export interface ReportFilters {
  severities?: readonly FindingSeverity[];
  ignoreUnfixed?: boolean;
  vex?: VexFilter;
}

export function applyFilters(report: ScanReport, filters: ReportFilters): ScanReport {
  const kept: Finding[] = [];
  const suppressed: SuppressedFinding[] = [...report.suppressed];
  for (const f of report.vulnerabilities) {
    const pkg = { name: f.package.name, version: f.installedVersion, ecosystem: f.package.ecosystem, purl: f.package.purl };
    const statement = filters.vex?.suppressing(f, report.image);
    if (statement) {
      suppressed.push({ id: f.id, package: pkg, reason: `vex:${statement.status}`, ...(statement.justification ? { justification: statement.justification } : {}) });
    } else if (filters.severities && !filters.severities.includes(f.severity)) {
      suppressed.push({ id: f.id, package: pkg, reason: 'severity' });
    } else if (filters.ignoreUnfixed && !f.fixedVersion) {
      suppressed.push({ id: f.id, package: pkg, reason: 'unfixed' });
    } else kept.push(f);
  }
  return { ...report, vulnerabilities: kept, suppressed, summary: summarize(kept, report.packages.length) };
}
