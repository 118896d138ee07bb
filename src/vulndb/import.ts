/**
 * `importOsv(store, paths)`: OSV JSON files, directories of them and zip archives of them
 * (read entry by entry, never unpacked to disk: see zip.ts), written in batches of one
 * transaction each. Incremental: unchanged records are counted, not written. Resumable: a run
 * that died leaves whole batches behind, and the next run skips what they hold.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { PalisadeError, randomIds, systemClock, type Clock, type IdSource } from '../core/index.js';
import type { Store } from '../store/index.js';
import { parseOsvJson, type ImportWarning, type WarningCode } from './osv.js';
import { publishAdvisoryFile } from './publish.js';
import { prepareAdvisory, recordEcosystemUpdate, writeAdvisoryBatch, type PreparedAdvisory } from './store.js';

export interface ImportProgress {
  /** The file or archive being read. */
  source: string;
  /** Records read so far in this run. */
  records: number;
  /** Entries of the current archive done / total, when reading a zip. */
  entriesDone?: number;
  entriesTotal?: number;
}

export interface ImportOptions {
  batchSize?: number;
  clock?: Clock;
  ids?: IdSource;
  onProgress?: (progress: ImportProgress) => void;
  /** Also record these ecosystems as updated now, even if the source held no record for them. */
  ecosystems?: string[];
  /** Describes the run in vuln_import_runs (default: the paths). */
  source?: string;
  /** At most this many warnings are kept in the report (all are counted). Default 1000. */
  keepWarnings?: number;
  /**
   * Publish a new advisory database file when done (default true). `updateFromOsvDev` imports
   * ecosystem after ecosystem and publishes once at the end.
   */
  publish?: boolean;
}

export interface ImportReport {
  runId: string;
  /** Ids of records that were new. */
  added: string[];
  /** Ids of records whose content changed: with `added`, what registry rescans must re-match. */
  changed: string[];
  unchanged: number;
  /** Records (or files) that could not be used. */
  skipped: number;
  warnings: ImportWarning[];
  warningCounts: Partial<Record<WarningCode, number>>;
  files: number;
  /** Runs that were still marked running (a crash or kill) and are superseded by this one. */
  resumedRuns: string[];
  /** The advisory database version published at the end (absent with `publish: false`). */
  version?: string;
}

interface SourceText {
  file: string;
  text: string;
}

type Warn = (w: ImportWarning) => void;

/** Streams the `.json` entries of a zip; a corrupt archive ends with a warning, keeping what was read. */
export async function* zipJsonEntries(file: string, warn: Warn, progress?: (done: number, total: number) => void): AsyncGenerator<SourceText> {
  // The zip reader (yauzl) is loaded by imports of zips only, not by every command that loads this folder.
  const { readZipText } = await import('./zip.js');
  const entries = readZipText(file, (name) => name.toLowerCase().endsWith('.json'), progress);
  try {
    for await (const { name, text } of entries) yield { file: `${file}!${name}`, text };
  } catch (error) {
    const after = (error as { entriesRead?: number }).entriesRead;
    warn({
      code: 'corrupt-archive',
      file,
      message: after ? `zip archive is corrupt after ${after} entries: ${(error as Error).message}` : `cannot read zip archive: ${(error as Error).message}`,
    });
  }
}

async function* directoryJsonFiles(dir: string, warn: Warn): AsyncGenerator<string> {
  let entries;
  try {
    entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  } catch (error) {
    warn({ code: 'unreadable-file', file: dir, message: (error as Error).message });
    return;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* directoryJsonFiles(p, warn);
    else if (e.isFile() && /\.(json|zip)$/i.test(e.name)) yield p;
  }
}

async function isZip(file: string): Promise<boolean> {
  if (file.toLowerCase().endsWith('.zip')) return true;
  const head = await new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    createReadStream(file, { start: 0, end: 3 }).on('data', (c) => chunks.push(c as Buffer)).on('end', () => resolve(Buffer.concat(chunks))).on('error', () => resolve(Buffer.alloc(0)));
  });
  return head.length === 4 && head.readUInt32LE(0) === 0x04034b50;
}

async function* fileTexts(file: string, warn: Warn, onZip: (done: number, total: number) => void): AsyncGenerator<SourceText> {
  if (await isZip(file)) {
    yield* zipJsonEntries(file, warn, onZip);
    return;
  }
  try {
    yield { file, text: await readFile(file, 'utf8') };
  } catch (error) {
    warn({ code: 'unreadable-file', file, message: (error as Error).message });
  }
}

export async function importOsv(store: Pick<Store, 'db'> & Partial<Pick<Store, 'kind' | 'where'>>, paths: string[], options: ImportOptions = {}): Promise<ImportReport> {
  const clock = options.clock ?? systemClock;
  const ids = options.ids ?? randomIds;
  const batchSize = options.batchSize ?? 1000;
  const keep = options.keepWarnings ?? 1000;
  for (const p of paths) {
    try {
      await stat(p);
    } catch {
      throw new PalisadeError('vulndb.import.not_found', `cannot import ${p}: no such file or directory`, {
        kind: 'not-found',
        field: 'path',
        hint: 'give OSV JSON files, directories of them, or zip archives (such as osv.dev all.zip)',
      });
    }
  }
  const db = store.db;
  const runId = ids.next('imp_');
  const source = options.source ?? paths.join(' ');
  const interrupted = await db.selectFrom('vuln_import_runs').select('id').where('status', '=', 'running').where('source', '=', source).execute();
  if (interrupted.length) {
    await db.updateTable('vuln_import_runs').set({ status: 'interrupted' }).where('id', 'in', interrupted.map((r) => r.id)).execute();
  }
  await db.insertInto('vuln_import_runs').values({ id: runId, source, status: 'running', started_at: clock.now().getTime() }).execute();

  const report: ImportReport = { runId, added: [], changed: [], unchanged: 0, skipped: 0, warnings: [], warningCounts: {}, files: 0, resumedRuns: interrupted.map((r) => r.id) };
  const warn: Warn = (w) => {
    report.warningCounts[w.code] = (report.warningCounts[w.code] ?? 0) + 1;
    if (report.warnings.length < keep) report.warnings.push(w);
  };
  let pending = new Map<string, PreparedAdvisory>();
  let records = 0;
  const touched = new Set<string>(options.ecosystems ?? []);
  const flush = async (): Promise<void> => {
    if (pending.size === 0) return;
    const batch = [...pending.values()];
    pending = new Map();
    const outcomes = await writeAdvisoryBatch(db, batch, runId, clock.now().getTime());
    for (const [id, outcome] of outcomes) {
      if (outcome === 'added') report.added.push(id);
      else if (outcome === 'changed') report.changed.push(id);
      else report.unchanged++;
    }
  };

  try {
    for (const top of paths) {
      const isDir = (await stat(top)).isDirectory();
      const files = isDir ? directoryJsonFiles(top, warn) : (async function* () { yield top; })();
      for await (const file of files) {
        let zipDone = 0;
        let zipTotal = 0;
        for await (const { file: name, text } of fileTexts(file, warn, (d, t) => { zipDone = d; zipTotal = t; })) {
          report.files++;
          for (const result of parseOsvJson(text, name)) {
            for (const w of result.warnings) warn(w);
            if (!result.record) {
              report.skipped++;
              continue;
            }
            records++;
            const prepared = prepareAdvisory(result.record);
            for (const [ecosystem] of prepared.keys) touched.add(ecosystem);
            const previous = pending.get(prepared.record.id);
            // The same id twice in one batch: keep the newer record.
            if (!previous || previous.modifiedMs <= prepared.modifiedMs) pending.set(prepared.record.id, prepared);
            if (pending.size >= batchSize) await flush();
          }
          options.onProgress?.({ source: file, records, ...(zipTotal ? { entriesDone: zipDone, entriesTotal: zipTotal } : {}) });
        }
      }
    }
    await flush();
    const now = clock.now().getTime();
    // "Last update" per ecosystem: every ecosystem this run read records for, plus those named by the caller.
    for (const ecosystem of touched) await recordEcosystemUpdate(db, ecosystem, now, source);
    await db.updateTable('vuln_import_runs').set({
      status: 'done', finished_at: now, added: report.added.length, changed: report.changed.length,
      unchanged: report.unchanged, skipped: report.skipped, warnings: Object.values(report.warningCounts).reduce((a, b) => a + b, 0),
    }).where('id', '=', runId).execute();
  } catch (error) {
    await db.updateTable('vuln_import_runs').set({ status: 'failed', finished_at: clock.now().getTime(), error: (error as Error).message, added: report.added.length, changed: report.changed.length })
      .where('id', '=', runId).execute().catch(() => {});
    throw error;
  }
  if (options.publish !== false) {
    const published = await publishAdvisoryFile(store, { clock });
    report.version = published.version;
    published.close();
  }
  return report;
}
