import { sarifLog, type Finding, type FindingSeverity, type SarifLevel } from '../../core/index.js';
import type { ScanReport } from '../report.js';

/** The scan as SARIF (core's writer): one rule per advisory, one result per vulnerable package. */
const LEVEL: Record<FindingSeverity, SarifLevel> = { critical: 'error', high: 'error', medium: 'warning', low: 'note', informational: 'note', unknown: 'warning' };
/** GitHub's `security-severity` buckets: critical ≥ 9, high ≥ 7, medium ≥ 4. */
const SCORE: Record<FindingSeverity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '2.0', informational: '0.0', unknown: '5.0' };

export function renderSarif(report: ScanReport, toolVersion: string): string {
  const packagePath = packagePaths(report);
  const rules = new Map<string, Finding>();
  for (const f of report.vulnerabilities) if (!rules.has(f.id)) rules.set(f.id, f);
  const log = sarifLog({
    toolVersion,
    rules: [...rules.values()].map((f) => ({
      id: f.id,
      name: f.id.replace(/[^A-Za-z0-9]/g, ''),
      shortDescription: { text: f.title || f.id },
      fullDescription: { text: `${f.title || f.id}${f.aliases.length ? ` (${f.aliases.join(', ')})` : ''}` },
      help: { text: f.remediation, markdown: `${f.remediation}${f.command ? `\n\n\`${f.command}\`` : ''}` },
      properties: { tags: ['vulnerability', 'security', f.package.ecosystem], 'security-severity': f.cvssScore !== undefined ? f.cvssScore.toFixed(1) : SCORE[f.severity] },
    })),
    results: report.vulnerabilities.map((f) => ({
      ruleId: f.id,
      level: LEVEL[f.severity],
      message: { text: `${f.package.name} ${f.installedVersion} is affected by ${f.id}${f.fixedVersion ? `; fixed in ${f.fixedVersion}` : '; no fix yet'}. Image: ${report.image.name}` },
      locations: [
        {
          physicalLocation: { artifactLocation: { uri: packagePath(f) } },
          logicalLocations: [{ name: f.package.purl, kind: 'package' }],
        },
      ],
      partialFingerprints: { imagePackageAdvisory: `${report.image.id}:${f.package.purl}:${f.id}` },
      properties: { severity: f.severity, installedVersion: f.installedVersion, fixedVersion: f.fixedVersion ?? null, layer: f.package.layer ?? null },
    })),
    properties: { image: report.image },
  });
  return `${JSON.stringify(log, null, 2)}\n`;
}

/** Where each finding's package was read from (the first package of that purl and name), looked up once per report rather than once per finding. */
function packagePaths(report: ScanReport): (f: Finding) => string {
  const paths = new Map<string, string | undefined>();
  for (const p of report.packages) {
    const key = `${p.purl}\u0000${p.name}`;
    if (!paths.has(key)) paths.set(key, p.path);
  }
  return (f) => paths.get(`${f.package.purl}\u0000${f.package.name}`) ?? report.image.name;
}
