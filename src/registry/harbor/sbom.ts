import type { Finding, ImageInventory } from '../../core/index.js';
import { renderCycloneDx, summarize, type ImageDescription } from '../../image/index.js';
import { HARBOR_SCANNER } from './metadata.js';
import type { HarborArtifact } from './report.js';

/** Harbor's SBOM report (spec 1.2 `HarborSbomReport`). Stored as CycloneDX; SPDX is made from it on request (spdx.ts). */
export const SBOM_REPORT_TYPE = 'application/vnd.security.sbom.report+json; version=1.0';
export const CYCLONEDX_MEDIA_TYPE = 'application/vnd.cyclonedx+json';

export interface HarborSbomReport {
  generated_at: string;
  artifact: HarborArtifact;
  scanner: typeof HARBOR_SCANNER;
  media_type: typeof CYCLONEDX_MEDIA_TYPE;
  sbom: Record<string, unknown>;
}

/** The image's packages and vulnerabilities as CycloneDX 1.6, the document `palisade scan --format cyclonedx` prints. */
export function harborSbomReport(artifact: HarborArtifact, image: ImageDescription, inventory: ImageInventory, findings: Finding[], warnings: string[], generatedAt: Date): HarborSbomReport {
  const bom = renderCycloneDx({
    schemaVersion: 1,
    image,
    os: inventory.os ?? null,
    packages: inventory.packages,
    vulnerabilities: findings,
    suppressed: [],
    summary: summarize(findings, inventory.packages.length),
    matched: true,
    warnings,
  }, HARBOR_SCANNER.version);
  return { generated_at: generatedAt.toISOString(), artifact, scanner: HARBOR_SCANNER, media_type: CYCLONEDX_MEDIA_TYPE, sbom: JSON.parse(bom) as Record<string, unknown> };
}
