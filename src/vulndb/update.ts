/**
 * `updateFromOsvDev`: downloads osv.dev's per-ecosystem archives (`ECOSYSTEM/all.zip`) to a temp
 * file, streaming, and imports each incrementally. One ecosystem failing (network, HTTP status,
 * corrupt archive) is a warning; the others still update.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { PalisadeError, systemClock } from '../core/index.js';
import type { Store } from '../store/index.js';
import { importOsv, type ImportOptions, type ImportReport } from './import.js';
import type { ImportWarning } from './osv.js';
import { publishAdvisoryFile } from './publish.js';
import { recordEcosystemUpdate } from './store.js';

export const OSV_BASE_URL = 'https://osv-vuln-data.storage.googleapis.com';

/** The ecosystems `palisade db update` fetches by default (issue 3). */
export const DEFAULT_ECOSYSTEMS = [
  'Debian', 'Ubuntu', 'Alpine', 'Wolfi', 'Chainguard', 'Red Hat', 'AlmaLinux', 'Rocky Linux', 'SUSE',
  'Azure Linux', 'Mariner', 'Amazon Linux', 'npm', 'PyPI', 'Go', 'Maven', 'crates.io', 'RubyGems', 'NuGet', 'Packagist',
] as const;

export interface UpdateProgress {
  ecosystem: string;
  phase: 'download' | 'import';
  /** Bytes downloaded, or archive entries imported. */
  done: number;
  total?: number;
}

export interface UpdateOptions extends Omit<ImportOptions, 'onProgress' | 'ecosystems' | 'source'> {
  fetch?: typeof globalThis.fetch;
  baseUrl?: string;
  onProgress?: (progress: UpdateProgress) => void;
}

export interface EcosystemUpdate {
  ecosystem: string;
  url: string;
  ok: boolean;
  error?: string;
  bytes?: number;
  report?: ImportReport;
}

export interface UpdateReport {
  ecosystems: EcosystemUpdate[];
  /** Every advisory id added or changed across ecosystems: what registry rescans must re-match. */
  added: string[];
  changed: string[];
  warnings: ImportWarning[];
  /** The advisory database version published at the end: its change (rematch-scope.ts) is what re-matching covers. */
  version?: string;
}

export function osvArchiveUrl(ecosystem: string, baseUrl = OSV_BASE_URL): string {
  return `${baseUrl.replace(/\/$/, '')}/${encodeURIComponent(ecosystem)}/all.zip`;
}

export async function updateFromOsvDev(
  store: Pick<Store, 'db'> & Partial<Pick<Store, 'kind' | 'where'>>,
  ecosystems: readonly string[] = DEFAULT_ECOSYSTEMS,
  options: UpdateOptions = {},
): Promise<UpdateReport> {
  if (ecosystems.length === 0) {
    throw new PalisadeError('vulndb.update.no_ecosystems', 'no ecosystems to update', { field: 'ecosystem', hint: `for example --ecosystem Debian --ecosystem npm` });
  }
  const fetcher = options.fetch ?? globalThis.fetch;
  const dir = await mkdtemp(path.join(tmpdir(), 'palisade-osv-'));
  const result: UpdateReport = { ecosystems: [], added: [], changed: [], warnings: [] };
  try {
    for (const ecosystem of ecosystems) {
      const url = osvArchiveUrl(ecosystem, options.baseUrl);
      const file = path.join(dir, `${ecosystem.replace(/[^A-Za-z0-9.-]/g, '_')}.zip`);
      const entry: EcosystemUpdate = { ecosystem, url, ok: false };
      result.ecosystems.push(entry);
      try {
        const response = await fetcher(url);
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
        const total = Number(response.headers.get('content-length')) || undefined;
        let done = 0;
        const body = Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>);
        body.on('data', (chunk: Buffer) => {
          done += chunk.length;
          options.onProgress?.({ ecosystem, phase: 'download', done, ...(total ? { total } : {}) });
        });
        await pipeline(body, createWriteStream(file));
        entry.bytes = done;
      } catch (error) {
        entry.error = `download of ${url} failed: ${(error as Error).message}`;
        result.warnings.push({ code: 'unreadable-file', file: url, message: entry.error });
        continue;
      }
      const { onProgress, fetch: _fetch, baseUrl: _base, ...importOptions } = options;
      const report = await importOsv(store, [file], {
        ...importOptions,
        source: url,
        ecosystems: [],
        publish: false,
        onProgress: (p) => onProgress?.({ ecosystem, phase: 'import', done: p.entriesDone ?? p.records, ...(p.entriesTotal ? { total: p.entriesTotal } : {}) }),
      });
      await rm(file, { force: true });
      entry.report = report;
      result.added.push(...report.added);
      result.changed.push(...report.changed);
      result.warnings.push(...report.warnings);
      // An archive that could not be read is not an update: keep the previous "last update".
      if (report.warningCounts['corrupt-archive']) {
        entry.error = `archive from ${url} is corrupt`;
        continue;
      }
      entry.ok = true;
      await recordEcosystemUpdate(store.db, ecosystem, (options.clock ?? systemClock).now().getTime(), url);
    }
    // One new advisory database file for the whole update (also when nothing changed: its status did).
    const published = await publishAdvisoryFile(store, options.clock ? { clock: options.clock } : {});
    result.version = published.version;
    published.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return result;
}
