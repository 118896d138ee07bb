import { compareSeverity, PalisadeError, type ImageInventory } from '../core/index.js';
import { assembleInventory } from './assemble.js';
import type { Store } from '../store/index.js';
import { currentAdvisoryFile, matchPackages, type AdvisoryFile } from '../vulndb/index.js';
import { analyzerKey, storeLayerCache, type LayerCache } from './cache.js';
import { summarize, type ScanReport } from './report.js';
import { DEFAULT_CATALOGERS } from './catalog/index.js';
import type { Cataloger } from './catalog/types.js';
import { analyzeLayer, analyzeLayerInPlace, type LayerAnalysis, type LayerLimits, type LayerProgress } from './layers.js';
import { formatPlatform, parsePlatform, type Platform } from './oci.js';
import { parseImageSource, type ImageSourceSpec } from './reference.js';
import type { RegistryCredentials } from './registry/auth.js';
import { openDockerArchive } from './sources/docker-archive.js';
import { openOciArchive } from './sources/oci-archive.js';
import { openOciLayout } from './sources/oci-layout.js';
import { openRegistryImage } from './sources/registry.js';
import { RegionDigester, type FileRegion } from './region-digest.js';
import type { ImageSource, LayerRef } from './sources/source.js';

export interface OpenImageOptions {
  /** `OS/ARCH[/VARIANT]`; default linux/amd64. */
  platform?: string | Platform;
  insecure?: boolean;
  credentials?: RegistryCredentials;
  dockerConfig?: string;
  fetch?: typeof fetch;
}

/** Opens any transport: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:NAME:TAG]`, `docker://REF` or a bare REF. */
export async function openImage(image: string | ImageSourceSpec, options: OpenImageOptions = {}): Promise<ImageSource> {
  const spec = typeof image === 'string' ? parseImageSource(image) : image;
  const platform = typeof options.platform === 'string' ? parsePlatform(options.platform) : (options.platform ?? { os: 'linux', architecture: 'amd64' });
  const source = await openSource(spec, platform, options);
  // A single-platform image is taken as it is, unless the user asked for another platform by name.
  const { os, architecture } = source.config;
  if (options.platform !== undefined && os && architecture && (os !== platform.os || architecture !== platform.architecture)) {
    await source.close();
    throw new PalisadeError('image.platform.missing', `${source.name} is ${os}/${architecture}, not ${formatPlatform(platform)}`, {
      kind: 'not-found',
      field: 'platform',
      hint: `scan it with --platform ${os}/${architecture}`,
    });
  }
  return source;
}

function openSource(spec: ImageSourceSpec, platform: Platform, options: OpenImageOptions): Promise<ImageSource> {
  switch (spec.transport) {
    case 'oci':
      return openOciLayout(spec.path, spec.tag, platform);
    case 'oci-archive':
      return openOciArchive(spec.path, spec.tag, platform);
    case 'docker-archive':
      return openDockerArchive(spec.path, spec.name);
    case 'registry':
      return openRegistryImage(spec.reference, platform, options);
  }
}

export type AnalysisProgress =
  | { type: 'layer-start'; index: number; total: number; digest: string; size: number; cached: boolean }
  | { type: 'layer-progress'; index: number; compressedBytes: number; bytes: number; entries: number }
  | { type: 'layer-done'; index: number; cached: boolean; entries: number; bytes: number };

export interface AnalyzeOptions {
  catalogers?: readonly Cataloger[];
  cache?: LayerCache;
  /** Layers read at once; zlib inflates on the thread pool, so 2 keeps both cores busy. */
  concurrency?: number;
  limits?: Partial<LayerLimits>;
  onProgress?: (event: AnalysisProgress) => void;
}

export interface ImageDescription {
  name: string;
  /** Manifest digest (absent for docker-archive, which has no manifest). */
  digest?: string;
  /** Config digest: the image ID, the same in every transport. */
  id: string;
  platform?: string;
  created?: string;
  layers: Array<{ digest: string; diffId: string; size: number; cached: boolean }>;
}

export interface ImageAnalysis {
  image: ImageDescription;
  inventory: ImageInventory;
  warnings: string[];
}

/** A large uncompressed layer read in place is hashed for its diff ID on the digester's thread, beside the parse. */
async function digestBeside(digester: RegionDigester, source: ImageSource, layer: LayerRef, what: string): Promise<{ settle: () => Promise<string>; region: FileRegion } | undefined> {
  const [algorithm] = layer.diffId.split(':');
  const region = layer.diffId ? source.layerRegion?.(layer) : undefined;
  if (!region || (algorithm !== 'sha256' && algorithm !== 'sha512')) return undefined;
  const digest = await digester.uncompressed(region, algorithm, what);
  return digest ? { settle: digest.settle, region } : undefined;
}

/** Reads (or takes from the cache) every layer, then merges them into the image's inventory. */
export async function analyzeImage(source: ImageSource, options: AnalyzeOptions = {}): Promise<ImageAnalysis> {
  const catalogers = options.catalogers ?? DEFAULT_CATALOGERS;
  const analyzer = analyzerKey(catalogers);
  const results: LayerAnalysis[] = new Array(source.layers.length);
  const cached: boolean[] = new Array(source.layers.length).fill(false);
  let next = 0;
  let failed = false;
  const digester = new RegionDigester();
  const worker = async () => {
    // After a failure the other workers stop taking layers: the scan is lost anyway.
    while (next < source.layers.length && !failed) {
      const index = next++;
      const layer = source.layers[index]!;
      // The cache is asked by diff ID before a byte of the layer is read.
      const hit = layer.diffId ? await options.cache?.get(layer.diffId, analyzer) : undefined;
      options.onProgress?.({ type: 'layer-start', index, total: source.layers.length, digest: layer.digest, size: layer.size, cached: !!hit });
      if (hit) {
        results[index] = hit;
        cached[index] = true;
      } else {
        const what = `${source.name}: layer ${layer.digest}`;
        const elsewhere = await digestBeside(digester, source, layer, what);
        const layerOptions = {
          catalogers,
          diffId: layer.diffId,
          what,
          ...(options.limits ? { limits: options.limits } : {}),
          ...(options.onProgress ? { onProgress: (p: LayerProgress) => options.onProgress!({ type: 'layer-progress', index, ...p }) } : {}),
        };
        // Hashed on the digester's thread, a layer in a plain file is read in place: its headers and wanted files only.
        results[index] = elsewhere
          ? await analyzeLayerInPlace(elsewhere.region, { ...layerOptions, uncompressedDigest: elsewhere.settle })
          : await analyzeLayer(await source.openLayer(layer), layerOptions);
        await options.cache?.put(results[index]!, analyzer);
      }
      options.onProgress?.({ type: 'layer-done', index, cached: cached[index]!, entries: results[index]!.entries, bytes: results[index]!.bytes });
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 2, source.layers.length));
  try {
    await Promise.all(
      Array.from({ length: workers }, () =>
        worker().catch((error: unknown) => {
          failed = true;
          throw error;
        }),
      ),
    );
  } finally {
    await digester.close();
  }
  const assembled = assembleInventory(results);
  const inventory = assembled.inventory;
  const warnings = [...(source.warnings ?? []), ...assembled.warnings];
  const config = source.config;
  const platform = config.os && config.architecture ? formatPlatform({ os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) }) : undefined;
  return {
    image: {
      name: source.name,
      ...(source.manifestDigest ? { digest: source.manifestDigest } : {}),
      id: source.configDigest,
      ...(platform ? { platform } : {}),
      ...(config.created ? { created: config.created } : {}),
      layers: source.layers.map((l, i) => ({ digest: l.digest, diffId: results[i]!.diffId, size: l.size, cached: cached[i]! })),
    },
    inventory,
    warnings,
  };
}

/** Opens, analyzes and closes: the inventory of one image, ready for matching. */
export async function inventoryImage(image: string | ImageSourceSpec, options: OpenImageOptions & AnalyzeOptions = {}): Promise<ImageAnalysis> {
  const source = await openImage(image, options);
  try {
    return await analyzeImage(source, options);
  } finally {
    await source.close();
  }
}

export interface ScanImageOptions extends OpenImageOptions, AnalyzeOptions {
  /** The advisory store (and, unless `cache` is given, the layer cache). Without it the report lists packages only. */
  store?: Pick<Store, 'db'> & Partial<Pick<Store, 'kind' | 'where'>>;
  /** An advisory database file already open (a one-shot scan's): matched instead of the store's, no database opened. */
  advisories?: AdvisoryFile;
}

/**
 * Analysis (cached per layer) composed with matching: Trivy's analyzer/detector split. Rescanning
 * after a database update re-reads no layer; only matching runs again.
 */
export async function scanImage(image: string | ImageSourceSpec, options: ScanImageOptions = {}): Promise<ScanReport> {
  const cache = options.cache ?? (options.store ? storeLayerCache(options.store.db) : undefined);
  const analysis = await inventoryImage(image, { ...options, ...(cache ? { cache } : {}) });
  const advisories = options.advisories ?? (options.store ? await currentAdvisoryFile(options.store) : undefined);
  const findings = advisories ? matchPackages(analysis.inventory, advisories.lookup) : [];
  const warnings = [...analysis.warnings];
  if (advisories && advisories.header.records === 0) {
    warnings.unshift('the advisory database is empty: run `palisade db update` or `palisade db import FILES` (packages are listed, nothing is matched)');
  }
  findings.sort(
    (a, b) =>
      compareSeverity(b.severity, a.severity) ||
      a.package.name.localeCompare(b.package.name) ||
      a.id.localeCompare(b.id),
  );
  return {
    schemaVersion: 1,
    image: analysis.image,
    os: analysis.inventory.os ?? null,
    packages: analysis.inventory.packages,
    vulnerabilities: findings,
    suppressed: [],
    summary: summarize(findings, analysis.inventory.packages.length),
    matched: advisories !== undefined,
    warnings,
  };
}
