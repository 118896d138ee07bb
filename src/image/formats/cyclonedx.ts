import type * as CDXLibrary from '@cyclonedx/cyclonedx-library';
import { lazyModule, type FindingSeverity } from '../../core/index.js';
import type { ScanReport } from '../report.js';

// The CycloneDX library is large and only `--format cyclonedx` and SBOM requests need it: it is
// loaded on first use, so a plain scan (in CI above all) does not pay for loading it.
const cyclonedxLibrary = lazyModule<typeof CDXLibrary>('@cyclonedx/cyclonedx-library');

const severityOf = (CDX: typeof CDXLibrary, severity: FindingSeverity): CDXLibrary.Enums.Vulnerability.Severity => ({
  critical: CDX.Enums.Vulnerability.Severity.Critical,
  high: CDX.Enums.Vulnerability.Severity.High,
  medium: CDX.Enums.Vulnerability.Severity.Medium,
  low: CDX.Enums.Vulnerability.Severity.Low,
  informational: CDX.Enums.Vulnerability.Severity.Info,
  unknown: CDX.Enums.Vulnerability.Severity.Unknown,
})[severity];

/** CycloneDX 1.6 SBOM (via @cyclonedx/cyclonedx-library): the image as metadata component, its packages, and the vulnerabilities. */
export function renderCycloneDx(report: ScanReport, toolVersion: string): string {
  const CDX = cyclonedxLibrary();
  const bom = new CDX.Models.Bom();
  bom.metadata.component = new CDX.Models.Component(CDX.Enums.ComponentType.Container, report.image.name, {
    bomRef: report.image.id,
    ...(report.image.digest ? { version: report.image.digest } : {}),
  });
  bom.metadata.tools.components.add(new CDX.Models.Component(CDX.Enums.ComponentType.Application, 'palisade', { version: toolVersion }));
  const refs = new Map<string, CDXLibrary.Models.Component>();
  for (const p of report.packages) {
    // A purl can appear at several paths (the same jar twice): bom-refs must stay unique.
    let ref = p.purl;
    for (let i = 2; refs.has(ref); i++) ref = `${p.purl}#${i}`;
    const component = new CDX.Models.Component(CDX.Enums.ComponentType.Library, p.name, { version: p.version, bomRef: ref });
    try {
      component.purl = p.purl as unknown as CDXLibrary.Models.Component['purl'];
    } catch {
      // leave the purl out if the library refuses it
    }
    if (p.layer) component.properties.add(new CDX.Models.Property('palisade:layer', p.layer));
    if (p.path) component.properties.add(new CDX.Models.Property('palisade:path', p.path));
    bom.components.add(component);
    refs.set(ref, component);
  }
  const byPurl = new Map<string, CDXLibrary.Models.Component>();
  for (const [ref, c] of refs) if (!byPurl.has(ref.split('#')[0]!)) byPurl.set(ref.split('#')[0]!, c);
  for (const f of report.vulnerabilities) {
    const v = new CDX.Models.Vulnerability.Vulnerability({
      id: f.id,
      bomRef: `${f.id}@${f.package.purl}`,
      ...(f.title ? { description: f.title } : {}),
      recommendation: f.remediation,
    });
    v.ratings.add(
      new CDX.Models.Vulnerability.Rating({
        severity: severityOf(CDX, f.severity),
        ...(f.cvssScore !== undefined ? { score: f.cvssScore } : {}),
        ...(f.cvssVector ? { vector: f.cvssVector } : {}),
      }),
    );
    for (const alias of f.aliases) v.references.add(new CDX.Models.Vulnerability.Reference(alias, new CDX.Models.Vulnerability.Source({ name: alias.split('-')[0] })));
    const component = byPurl.get(f.package.purl);
    if (component) v.affects.add(new CDX.Models.Vulnerability.Affect(component.bomRef));
    bom.vulnerabilities.add(v);
  }
  const serializer = new CDX.Serialize.JsonSerializer(new CDX.Serialize.JSON.Normalize.Factory(CDX.Spec.Spec1dot6));
  return `${serializer.serialize(bom, { sortLists: true, space: 2 })}\n`;
}
