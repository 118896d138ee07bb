/** Image analysis: open any image transport, read its layers once, and list what is installed. */
export { openImage, analyzeImage, inventoryImage, type OpenImageOptions, type AnalyzeOptions, type AnalysisProgress, type ImageAnalysis, type ImageDescription } from './scan.js';
export { parseReference, parseWrittenReference, parseImageSource, formatReference, isDigest, isPathComponent, isTag, type ImageReference, type ImageSourceSpec } from './reference.js';
export { parsePlatform, formatPlatform, type Platform, type ImageConfig } from './oci.js';
export type { ImageSource, LayerRef } from './sources/source.js';
export { memoryLayerCache, storeLayerCache, directoryLayerCache, analyzerKey, forgetRecentAnalyses, type LayerCache } from './cache.js';
export { DEFAULT_CATALOGERS, type Cataloger } from './catalog/index.js';
export { analyzeLayer, DEFAULT_LIMITS, type LayerAnalysis, type LayerLimits } from './layers.js';
export { assembleInventory } from './assemble.js';
export { RegistryClient, type RegistryClientOptions } from './registry/client.js';
export { dockerConfigCredentials, type RegistryCredentials } from './registry/auth.js';
export { scanImage, type ScanImageOptions } from './scan.js';
export { applyFilters, parseSeverityList, readVex, summarize, type ScanReport, type ReportFilters, type SuppressedFinding, type VexFilter, type VexStatement } from './report.js';
export { renderCycloneDx } from './formats/cyclonedx.js';
export { renderSarif } from './formats/sarif.js';
export { renderTable } from './formats/table.js';
