import { readFile } from 'node:fs/promises';
import { FINDING_SEVERITIES, isFindingSeverity, PalisadeError, type Finding, type FindingSeverity, type InstalledPackage, type OperatingSystem } from '../core/index.js';
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

/** One OpenVEX statement, reduced to what suppression needs. */
export interface VexStatement {
  vulnerability: string[];
  products: string[];
  status: string;
  justification?: string;
}

/** Reads an OpenVEX document (v0.0.1 and v0.2.0 shapes). */
export async function readVex(file: string): Promise<VexStatement[]> {
  let doc: { statements?: unknown };
  try {
    doc = JSON.parse(await readFile(file, 'utf8')) as typeof doc;
  } catch (error) {
    throw new PalisadeError('scan.vex.invalid', `cannot read VEX document ${file}: ${(error as Error).message}`, { field: 'vex', hint: 'give an OpenVEX JSON document (https://openvex.dev)' });
  }
  if (!Array.isArray(doc.statements)) throw new PalisadeError('scan.vex.invalid', `${file} has no "statements" list`, { field: 'vex', hint: 'give an OpenVEX JSON document (https://openvex.dev)' });
  return (doc.statements as Array<Record<string, unknown>>).map((s) => {
    const v = s.vulnerability as string | { name?: string; '@id'?: string; aliases?: string[] } | undefined;
    const vulnerability = typeof v === 'string' ? [v] : [v?.name, v?.['@id'], ...(v?.aliases ?? [])].filter((x): x is string => typeof x === 'string');
    const products = ((s.products as Array<string | { '@id'?: string; subcomponents?: Array<{ '@id'?: string }> }> | undefined) ?? []).flatMap((p) =>
      typeof p === 'string' ? [p] : [p['@id'], ...(p.subcomponents ?? []).map((c) => c['@id'])].filter((x): x is string => typeof x === 'string'),
    );
    return { vulnerability, products, status: String(s.status ?? ''), ...(typeof s.justification === 'string' ? { justification: s.justification } : {}) };
  });
}

const purlBase = (purl: string) => purl.split('?')[0]!.split('#')[0]!;

function vexMatch(finding: Finding, statements: readonly VexStatement[], image: ImageDescription): VexStatement | undefined {
  const ids = new Set([finding.id, ...finding.aliases]);
  return statements.find((s) => {
    if (s.status !== 'not_affected' && s.status !== 'fixed') return false;
    if (!s.vulnerability.some((v) => ids.has(v))) return false;
    if (s.products.length === 0) return true;
    return s.products.some((p) => purlBase(p) === purlBase(finding.package.purl) || (image.digest !== undefined && p.includes(image.digest)) || p.includes(image.id));
  });
}

export interface ReportFilters {
  severities?: readonly FindingSeverity[];
  ignoreUnfixed?: boolean;
  vex?: readonly VexStatement[];
}

export function applyFilters(report: ScanReport, filters: ReportFilters): ScanReport {
  const kept: Finding[] = [];
  const suppressed: SuppressedFinding[] = [...report.suppressed];
  for (const f of report.vulnerabilities) {
    const pkg = { name: f.package.name, version: f.installedVersion, ecosystem: f.package.ecosystem, purl: f.package.purl };
    const statement = filters.vex ? vexMatch(f, filters.vex, report.image) : undefined;
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
