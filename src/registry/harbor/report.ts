import { compareSeverity, type Finding, type FindingSeverity } from '../../core/index.js';
import { HARBOR_SCANNER } from './metadata.js';

/** Harbor's severity scale (spec `Severity`). */
export type HarborSeverity = 'Unknown' | 'Negligible' | 'Low' | 'Medium' | 'High' | 'Critical';

const SEVERITY: Record<FindingSeverity, HarborSeverity> = {
  critical: 'Critical',
  high: 'High',
  medium: 'Medium',
  low: 'Low',
  informational: 'Negligible',
  unknown: 'Unknown',
};

export interface HarborArtifact {
  repository: string;
  digest: string;
  tag?: string;
  mime_type?: string;
}

export interface HarborVulnerabilityItem {
  id: string;
  package: string;
  version: string;
  fix_version?: string;
  severity: HarborSeverity;
  description?: string;
  links: string[];
  preferred_cvss?: { score_v3?: number; vector_v3?: string; score_v2?: number; vector_v2?: string };
  vendor_attributes: Record<string, unknown>;
}

export interface HarborVulnerabilityReport {
  generated_at: string;
  artifact: HarborArtifact;
  scanner: typeof HARBOR_SCANNER;
  severity: HarborSeverity;
  vulnerabilities: HarborVulnerabilityItem[];
}

export function harborSeverity(severity: FindingSeverity): HarborSeverity {
  return SEVERITY[severity] ?? 'Unknown';
}

/**
 * Palisade's findings as Harbor's report. The id is the finding's CVE when it has one: Harbor's
 * project CVE allowlists and its UI match on CVE ids, whereas Palisade's primary id may be a
 * DSA/GHSA (the other ids stay in `vendor_attributes.aliases`).
 */
export function harborVulnerabilityReport(artifact: HarborArtifact, findings: readonly Finding[], generatedAt: Date): HarborVulnerabilityReport {
  let worst: FindingSeverity = 'unknown';
  for (const f of findings) if (compareSeverity(f.severity, worst) > 0) worst = f.severity;
  return { generated_at: generatedAt.toISOString(), artifact, scanner: HARBOR_SCANNER, severity: harborSeverity(worst), vulnerabilities: findings.map(toItem) };
}

function toItem(finding: Finding): HarborVulnerabilityItem {
  const id = [finding.id, ...finding.aliases].find((candidate) => /^CVE-\d{4}-\d+$/.test(candidate)) ?? finding.id;
  const item: HarborVulnerabilityItem = {
    id,
    package: finding.package.name,
    version: finding.installedVersion,
    severity: harborSeverity(finding.severity),
    links: [`https://osv.dev/vulnerability/${encodeURIComponent(finding.id)}`],
    vendor_attributes: {
      advisory: finding.id,
      aliases: finding.aliases,
      ecosystem: finding.package.ecosystem,
      purl: finding.package.purl,
      ...(finding.package.layer ? { layer: finding.package.layer } : {}),
      status: finding.status,
      remediation: finding.remediation,
    },
  };
  if (finding.fixedVersion) item.fix_version = finding.fixedVersion;
  if (finding.title) item.description = finding.title;
  const cvss = preferredCvss(finding);
  if (cvss) item.preferred_cvss = cvss;
  return item;
}

/** CVSS 3.x goes in the v3 fields; a bare vector (no `CVSS:` prefix) is CVSS 2; CVSS 4 has no field in the spec. */
function preferredCvss(finding: Finding): HarborVulnerabilityItem['preferred_cvss'] | undefined {
  const vector = finding.cvssVector;
  if (!vector) return undefined;
  const score = finding.cvssScore;
  if (/^CVSS:3\.[01]\//.test(vector)) return { vector_v3: vector, ...(score !== undefined ? { score_v3: score } : {}) };
  if (/^AV:[LAN]\//.test(vector)) return { vector_v2: vector, ...(score !== undefined ? { score_v2: score } : {}) };
  return undefined;
}
