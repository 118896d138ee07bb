import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ColumnType, Kysely } from 'kysely';
import type { Database } from '../store/index.js';
import type { Cataloger } from './catalog/types.js';
import type { LayerAnalysis } from './layers.js';

/**
 * Layer analyses cached by diff ID and the versions of the catalogers that produced them
 * (Trivy's analyzer cache): a second image sharing a base layer, or a rescan after a database
 * update, reads no layer twice. A diff ID names the uncompressed content, which the layer reader
 * verifies before anything is cached, so a hit is as good as a read.
 */
export interface LayerCache {
  get(diffId: string, analyzer: string): Promise<LayerAnalysis | undefined>;
  put(analysis: LayerAnalysis, analyzer: string): Promise<void>;
}

/** Bump when LayerAnalysis changes shape. */
const FORMAT = 1;

export function analyzerKey(catalogers: readonly Cataloger[]): string {
  return `v${FORMAT};${catalogers.map((c) => `${c.name}@${c.version}`).sort().join(',')}`;
}

export function memoryLayerCache(): LayerCache & { size(): number } {
  const entries = new Map<string, string>();
  return {
    async get(diffId, analyzer) {
      const text = entries.get(`${diffId} ${analyzer}`);
      return text === undefined ? undefined : (JSON.parse(text) as LayerAnalysis);
    },
    async put(analysis, analyzer) {
      entries.set(`${analysis.diffId} ${analyzer}`, JSON.stringify(analysis));
    },
    size: () => entries.size,
  };
}

export interface ImageLayerAnalysisTable {
  diff_id: string;
  analyzer: string;
  analysis: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

declare module '../store/schema.js' {
  interface Database {
    image_layer_analyses: ImageLayerAnalysisTable;
  }
}

/**
 * Parsed analyses kept in memory in front of the store. The key names content (a diff ID is the
 * hash of the layer, the analyzer key the code that read it), so one process-wide set is safe to
 * share between stores; it spares a worker the query and the JSON parse on every rescan.
 */
const RECENT_LIMIT = 32;
const recent = new Map<string, LayerAnalysis>();

function remember(key: string, analysis: LayerAnalysis): void {
  recent.delete(key);
  recent.set(key, analysis);
  while (recent.size > RECENT_LIMIT) recent.delete(recent.keys().next().value!);
}

/** Forgets the in-memory analyses (tests prove the store alone answers). */
export function forgetRecentAnalyses(): void {
  recent.clear();
}

/** The store-backed cache (table from migration 0500_image), with recently used analyses in memory. */
export function storeLayerCache(db: Kysely<Database>): LayerCache {
  return {
    async get(diffId, analyzer) {
      const key = `${diffId} ${analyzer}`;
      const hit = recent.get(key);
      if (hit) {
        remember(key, hit);
        return hit;
      }
      const row = await db.selectFrom('image_layer_analyses').select('analysis').where('diff_id', '=', diffId).where('analyzer', '=', analyzer).executeTakeFirst();
      if (!row) return undefined;
      const analysis = JSON.parse(row.analysis) as LayerAnalysis;
      remember(key, analysis);
      return analysis;
    },
    async put(analysis, analyzer) {
      const text = JSON.stringify(analysis);
      await db
        .insertInto('image_layer_analyses')
        .values({ diff_id: analysis.diffId, analyzer, analysis: text })
        .onConflict((oc) => oc.columns(['diff_id', 'analyzer']).doUpdateSet({ analysis: text }))
        .execute();
      remember(`${analysis.diffId} ${analyzer}`, analysis);
    },
  };
}

/**
 * A plain directory of analyses (one JSON file per diff ID and analyzer), for one-shot scans that
 * open no database: `~/.cache/palisade/layers` by default (`--cache-dir`). Files are written to a
 * temporary name and renamed, so concurrent scans never read half an analysis; an unreadable file
 * is a miss.
 */
export function directoryLayerCache(dir: string): LayerCache {
  const fileOf = (diffId: string, analyzer: string): string =>
    path.join(dir, 'layers', createHash('sha256').update(analyzer).digest('hex').slice(0, 16), `${diffId.replace(/[^A-Za-z0-9]/g, '_')}.json`);
  return {
    async get(diffId, analyzer) {
      try {
        const analysis = JSON.parse(await readFile(fileOf(diffId, analyzer), 'utf8')) as LayerAnalysis;
        return analysis.diffId === diffId ? analysis : undefined;
      } catch {
        return undefined;
      }
    },
    async put(analysis, analyzer) {
      const file = fileOf(analysis.diffId, analyzer);
      await mkdir(path.dirname(file), { recursive: true });
      // Unique per write: two workers may store the same layer (an image listing one diff ID twice) in the same millisecond.
      const tmp = `${file}.${randomUUID()}.tmp`;
      await writeFile(tmp, JSON.stringify(analysis));
      await rename(tmp, file);
    },
  };
}
