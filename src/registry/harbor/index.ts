/** Harbor's pluggable scanner adapter (goharbor/pluggable-scanner-spec 1.0–1.2): metadata, scan requests, reports. */
export { harborScannerMetadata, HARBOR_MEDIA_TYPES, HARBOR_SCANNER, CONSUMED_MEDIA_TYPES, PRODUCED_REPORT_TYPES, type HarborScannerMetadata } from './metadata.js';
export { harborScanner, REFRESH_AFTER_SECONDS, type HarborScanner, type HarborCaller, type HarborScanInput, type HarborReportState, type HarborScannerContext } from './scan-requests.js';
export { harborVulnerabilityReport, harborSeverity, type HarborVulnerabilityReport, type HarborVulnerabilityItem, type HarborSeverity } from './report.js';
export { harborSbomReport, SBOM_REPORT_TYPE, CYCLONEDX_MEDIA_TYPE, type HarborSbomReport } from './sbom.js';
export { harborSpdxReport, spdxFromCycloneDx, SPDX_MEDIA_TYPE, type SpdxDocument } from './spdx.js';
