import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Store } from '../../store/index.js';

/** Media types of the Harbor pluggable scanner spec (goharbor/pluggable-scanner-spec, spec/README.md here). */
export const HARBOR_MEDIA_TYPES = {
  metadata: (version: '1.0' | '1.1') => `application/vnd.scanner.adapter.metadata+json; version=${version}`,
  scanResponse: 'application/vnd.scanner.adapter.scan.response+json; version=1.0',
  error: 'application/vnd.scanner.adapter.error+json; version=1.0',
  /** The report Harbor 2.x asks for first (spec 1.1+). */
  securityReport: 'application/vnd.security.vulnerability.report; version=1.1',
  /** The report Harbor 1.10–2.x asked for before (spec 1.0). */
  harborReport: 'application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0',
} as const;

/** The artifacts Palisade can scan: single images. Harbor sends each platform of an index on its own. */
export const CONSUMED_MEDIA_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
] as const;

export const PRODUCED_REPORT_TYPES = [HARBOR_MEDIA_TYPES.securityReport, HARBOR_MEDIA_TYPES.harborReport] as const;

/** The scanner's name and version as Harbor shows them next to each report. */
export const HARBOR_SCANNER = { name: 'Palisade', vendor: 'Palisade', version: packageVersion() };

function packageVersion(): string {
  // src/registry/harbor and dist/registry/harbor are both three levels below package.json.
  try {
    return (JSON.parse(readFileSync(path.join(import.meta.dirname, '../../../package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export interface HarborScannerMetadata {
  scanner: typeof HARBOR_SCANNER;
  capabilities: Array<{ type: 'vulnerability' | 'sbom'; consumes_mime_types: string[]; produces_mime_types: string[]; additional_attributes?: Record<string, unknown> }>;
  properties: Record<string, string>;
}

/** Harbor's SBOM capability (spec 1.2, metadata 1.1): CycloneDX and SPDX 2.3 JSON. */
const SBOM_CAPABILITY = {
  type: 'sbom' as const,
  consumes_mime_types: [...CONSUMED_MEDIA_TYPES],
  produces_mime_types: ['application/vnd.security.sbom.report+json; version=1.0'],
  additional_attributes: { sbom_media_types: ['application/vnd.cyclonedx+json', 'application/spdx+json'] },
};

/**
 * `GET /metadata`: what Harbor shows when the scanner is registered, and checks before each scan.
 * The database's update time is the last advisory import that finished (`db update` or `db import`).
 */
export async function harborScannerMetadata(store: Pick<Store, 'db'>, version: '1.0' | '1.1' = '1.1'): Promise<HarborScannerMetadata> {
  const last = await store.db.selectFrom('vuln_import_runs').select('finished_at')
    .where('status', '=', 'done').where('finished_at', 'is not', null)
    .orderBy('finished_at', 'desc').limit(1).executeTakeFirst();
  const properties: Record<string, string> = {
    'harbor.scanner-adapter/scanner-type': 'os-package-vulnerability',
    'harbor.scanner-adapter/vulnerability-database-source': 'OSV',
  };
  if (last?.finished_at != null) properties['harbor.scanner-adapter/vulnerability-database-updated-at'] = new Date(Number(last.finished_at)).toISOString();
  return {
    scanner: HARBOR_SCANNER,
    // A Harbor speaking metadata 1.0 knows no capability types: it gets the vulnerability one only.
    capabilities: [
      { type: 'vulnerability', consumes_mime_types: [...CONSUMED_MEDIA_TYPES], produces_mime_types: [...PRODUCED_REPORT_TYPES] },
      ...(version === '1.1' ? [SBOM_CAPABILITY] : []),
    ],
    properties,
  };
}
