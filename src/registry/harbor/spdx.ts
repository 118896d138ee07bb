import { createHash } from 'node:crypto';
import type { HarborSbomReport } from './sbom.js';

/** Harbor's name for an SPDX SBOM (spec 1.2 `sbom_media_type`). */
export const SPDX_MEDIA_TYPE = 'application/spdx+json';

interface CycloneDxComponent {
  name?: string;
  version?: string;
  purl?: string;
  'bom-ref'?: string;
}

/** An SPDX 2.3 JSON document. */
export interface SpdxDocument {
  spdxVersion: 'SPDX-2.3';
  dataLicense: 'CC0-1.0';
  SPDXID: 'SPDXRef-DOCUMENT';
  name: string;
  documentNamespace: string;
  creationInfo: { created: string; creators: string[] };
  documentDescribes: string[];
  packages: Array<Record<string, unknown>>;
  relationships: Array<{ spdxElementId: string; relationshipType: 'DESCRIBES' | 'CONTAINS'; relatedSpdxElement: string }>;
}

/**
 * The same SBOM as SPDX 2.3 JSON, for a Harbor that asks `sbom_media_type=application/spdx+json`:
 * made from the stored CycloneDX report (one inventory, two notations), so both describe exactly the
 * packages the scan found. The image is the described CONTAINER package and CONTAINS each package;
 * each package carries its purl as a PACKAGE-MANAGER external reference. Palisade reads no licences
 * and no download locations from images: those fields say NOASSERTION, as SPDX asks. SPDX 2.3 has
 * no vulnerability section; the vulnerability report carries them.
 */
export function spdxFromCycloneDx(report: HarborSbomReport): SpdxDocument {
  const { artifact } = report;
  const bom = report.sbom as { components?: CycloneDxComponent[] };
  const created = `${report.generated_at.slice(0, 19)}Z`;
  const imageId = 'SPDXRef-Image';
  const packages: Array<Record<string, unknown>> = [{
    SPDXID: imageId,
    name: artifact.repository,
    versionInfo: artifact.digest,
    downloadLocation: 'NOASSERTION',
    filesAnalyzed: false,
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: 'NOASSERTION',
    copyrightText: 'NOASSERTION',
    primaryPackagePurpose: 'CONTAINER',
    checksums: [{ algorithm: artifact.digest.startsWith('sha512:') ? 'SHA512' : 'SHA256', checksumValue: artifact.digest.replace(/^sha(256|512):/, '') }],
  }];
  const relationships: SpdxDocument['relationships'] = [{ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: imageId }];
  (bom.components ?? []).forEach((component, i) => {
    const id = `SPDXRef-Package-${i + 1}`;
    packages.push({
      SPDXID: id,
      name: component.name ?? 'unknown',
      ...(component.version ? { versionInfo: component.version } : {}),
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      primaryPackagePurpose: 'LIBRARY',
      ...(component.purl ? { externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: component.purl }] } : {}),
    });
    relationships.push({ spdxElementId: imageId, relationshipType: 'CONTAINS', relatedSpdxElement: id });
  });
  // A namespace unique to this document, the same each time the same report is asked for.
  const hash = createHash('sha256').update(`${artifact.repository}@${artifact.digest}@${report.generated_at}`).digest('hex');
  const uuid = `${hash.slice(0, 8)}-${hash.slice(8, 12)}-5${hash.slice(13, 16)}-${((Number.parseInt(hash[16]!, 16) & 0x3) | 0x8).toString(16)}${hash.slice(17, 20)}-${hash.slice(20, 32)}`;
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${artifact.repository}@${artifact.digest}`,
    documentNamespace: `urn:uuid:${uuid}`,
    creationInfo: { created, creators: [`Tool: ${report.scanner.name}-${report.scanner.version}`] },
    documentDescribes: [imageId],
    packages,
    relationships,
  };
}

/** The Harbor SBOM report with the SPDX document in place of the CycloneDX one. */
export function harborSpdxReport(report: HarborSbomReport): Omit<HarborSbomReport, 'media_type' | 'sbom'> & { media_type: typeof SPDX_MEDIA_TYPE; sbom: SpdxDocument } {
  return { ...report, media_type: SPDX_MEDIA_TYPE, sbom: spdxFromCycloneDx(report) };
}
