import { stat } from 'node:fs/promises';
import path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { PalisadeError } from '../core/index.js';
import type { Store } from '../store/index.js';
// Types only at the top: the advisory database code is loaded by the commands that open the store
// (`import()` below), not by those a running server answers.
import type { ImportReport, ImportWarning, UpdateProgress } from '../vulndb/index.js';
import { remoteApi, runningServer, uploadFile, withServerFlags, type RunningServer } from './api.js';
import { withStore, withStoreFlags } from './shared.js';

/** Where command output goes; tests pass their own. `progress` is set only for a terminal. */
export interface DbOutput {
  log(line: string): void;
  warn(line: string): void;
  progress?: NodeJS.WriteStream;
}

export const consoleOutput = (): DbOutput => ({
  log: (line) => console.log(line),
  warn: (line) => console.error(line),
  ...(process.stderr.isTTY ? { progress: process.stderr } : {}),
});

export interface DbUpdateFlags {
  ecosystem?: string[];
  baseUrl?: string;
  format?: string;
}

export interface DbImportFlags {
  format?: string;
}

export interface DbStatusFlags {
  format?: string;
}

const SHOWN_WARNINGS = 20;

function printWarnings(out: DbOutput, warnings: ImportWarning[], counts: Record<string, number | undefined>): void {
  const total = Object.values(counts).reduce<number>((a, b) => a + (b ?? 0), 0);
  if (total === 0) return;
  out.warn(`${total} warning(s): ${Object.entries(counts).map(([code, n]) => `${code} ${n}`).join(', ')}`);
  for (const w of warnings.slice(0, SHOWN_WARNINGS)) out.warn(`  ${w.file}${w.id ? ` (${w.id})` : ''}: ${w.message}`);
  if (total > SHOWN_WARNINGS) out.warn(`  ... and ${total - SHOWN_WARNINGS} more`);
}

function summary(report: Pick<ImportReport, 'added' | 'changed' | 'unchanged' | 'skipped'>): string {
  return `${report.added.length} added, ${report.changed.length} changed, ${report.unchanged} unchanged, ${report.skipped} skipped`;
}

function countWarnings(warnings: ImportWarning[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const w of warnings) counts[w.code] = (counts[w.code] ?? 0) + 1;
  return counts;
}

/** `palisade db update`: returns the process exit code (1 when an ecosystem could not be updated). */
export async function runDbUpdate(store: Store, flags: DbUpdateFlags, out: DbOutput = consoleOutput()): Promise<number> {
  const { DEFAULT_ECOSYSTEMS, isKnownEcosystem, updateFromOsvDev } = await import('../vulndb/index.js');
  const ecosystems = flags.ecosystem?.length ? flags.ecosystem : [...DEFAULT_ECOSYSTEMS];
  const unknown = ecosystems.filter((e) => !isKnownEcosystem(e));
  if (unknown.length) {
    throw new PalisadeError('vulndb.ecosystem.unknown', `unknown ecosystem(s): ${unknown.join(', ')}`, {
      field: '--ecosystem',
      hint: `osv.dev names, e.g. ${DEFAULT_ECOSYSTEMS.join(', ')}`,
    });
  }
  let bar: SingleBar | undefined;
  let current = '';
  const onProgress = (p: UpdateProgress): void => {
    if (!out.progress) return;
    const label = `${p.ecosystem} ${p.phase}`;
    if (label !== current) {
      bar?.stop();
      current = label;
      bar = new SingleBar({ format: `${label.padEnd(28)} [{bar}] {percentage}% {value}/{total}`, stream: out.progress, hideCursor: true }, Presets.shades_classic);
      bar.start(p.total ?? 0, 0);
    }
    if (p.total) bar!.setTotal(p.total);
    bar!.update(p.done);
  };
  const report = await updateFromOsvDev(store, ecosystems, { onProgress, ...(flags.baseUrl ? { baseUrl: flags.baseUrl } : {}) });
  bar?.stop();
  if (flags.format === 'json') {
    out.log(JSON.stringify({
      ecosystems: report.ecosystems.map((e) => ({ ecosystem: e.ecosystem, ok: e.ok, url: e.url, error: e.error, added: e.report?.added.length ?? 0, changed: e.report?.changed.length ?? 0 })),
      added: report.added,
      changed: report.changed,
      warnings: report.warnings,
    }, null, 2));
  } else {
    for (const e of report.ecosystems) {
      out.log(e.ok && e.report ? `${e.ecosystem}: ${summary(e.report)}` : `${e.ecosystem}: FAILED ${e.error ?? ''}`.trim());
    }
    printWarnings(out, report.warnings, countWarnings(report.warnings));
  }
  return report.ecosystems.every((e) => e.ok) ? 0 : 1;
}

/** `palisade db import PATH...` */
export async function runDbImport(store: Store, paths: string[], flags: DbImportFlags, out: DbOutput = consoleOutput()): Promise<number> {
  const { importOsv } = await import('../vulndb/index.js');
  let bar: SingleBar | undefined;
  const report = await importOsv(store, paths, {
    onProgress: (p) => {
      if (!out.progress || !p.entriesTotal) return;
      if (!bar) {
        bar = new SingleBar({ format: 'import [{bar}] {percentage}% {value}/{total} entries', stream: out.progress, hideCursor: true }, Presets.shades_classic);
        bar.start(p.entriesTotal, 0);
      }
      bar.setTotal(p.entriesTotal);
      bar.update(p.entriesDone ?? 0);
    },
  });
  bar?.stop();
  if (flags.format === 'json') {
    out.log(JSON.stringify(report, null, 2));
  } else {
    out.log(`imported ${paths.join(' ')}: ${summary(report)} (run ${report.runId})`);
    printWarnings(out, report.warnings, report.warningCounts);
  }
  return 0;
}

/** `palisade db status` on the data directory. */
export async function runDbStatus(store: Store, flags: DbStatusFlags, out: DbOutput = consoleOutput()): Promise<number> {
  const { dbStatus } = await import('../vulndb/index.js');
  printDbStatus(JSON.parse(JSON.stringify(await dbStatus(store))) as DbStatusDocument, flags, out);
  return 0;
}

/** The status document as JSON carries it (dates as ISO strings): in process and from a server alike. */
type DbStatusDocument = {
  advisories: number;
  ecosystems: Array<{ ecosystem: string; advisories: number; newestModified?: string; lastUpdate?: string }>;
  lastImport?: { startedAt: string; status: string };
};

function printDbStatus(status: DbStatusDocument, flags: DbStatusFlags, out: DbOutput): void {
  if (flags.format === 'json') {
    out.log(JSON.stringify(status, null, 2));
    return;
  }
  out.log(['ECOSYSTEM', 'ADVISORIES', 'NEWEST MODIFIED', 'LAST UPDATE'].join('\t'));
  for (const e of status.ecosystems) {
    out.log([e.ecosystem, String(e.advisories), e.newestModified ?? '-', e.lastUpdate ?? '-'].join('\t'));
  }
  out.log(`total: ${status.advisories} advisories${status.lastImport ? `; last import ${status.lastImport.startedAt} (${status.lastImport.status})` : ''}`);
}

/**
 * `palisade db import` beside a running server, which holds the database: each file is streamed
 * to `POST /api/v1/db/import`. Directories are refused with what to do (one request per file of a
 * tree of thousands would be slow and leave as many import runs).
 */
export async function runDbImportThroughServer(server: RunningServer, paths: string[], flags: DbImportFlags, out: DbOutput = consoleOutput()): Promise<number> {
  const sizes: number[] = [];
  for (const p of paths) {
    const info = await stat(p).catch(() => undefined);
    if (!info) {
      throw new PalisadeError('vulndb.import.not_found', `cannot import ${p}: no such file or directory`, { kind: 'not-found', field: 'path', hint: 'give OSV JSON files or zip archives (such as osv.dev all.zip)' });
    }
    if (info.isDirectory()) {
      throw new PalisadeError('cli.db_import_directory', `cannot send directory ${p} to the server at ${server.url}`, {
        field: 'path',
        hint: `zip it first (zip -qr osv.zip ${p}) and import osv.zip, or stop the server and import the directory`,
      });
    }
    sizes.push(info.size);
  }
  const reports: ImportReport[] = [];
  for (const [i, p] of paths.entries()) {
    let bar: SingleBar | undefined;
    if (out.progress) {
      bar = new SingleBar({ format: `upload ${path.basename(p)} [{bar}] {percentage}% {value}/{total} bytes`, stream: out.progress, hideCursor: true }, Presets.shades_classic);
      bar.start(sizes[i]!, 0);
    }
    try {
      reports.push(await uploadFile<ImportReport>(server, `/db/import?name=${encodeURIComponent(path.basename(p))}`, p, (sent) => bar?.update(sent)));
    } finally {
      bar?.stop();
    }
  }
  for (const [i, report] of reports.entries()) {
    if (flags.format === 'json') continue;
    out.log(`imported ${paths[i]} through ${server.url}: ${summary(report)} (run ${report.runId})`);
    printWarnings(out, report.warnings, report.warningCounts);
  }
  if (flags.format === 'json') out.log(JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2));
  return 0;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function checkFormat(format: string | undefined): void {
  if (format !== undefined && format !== 'table' && format !== 'json') {
    throw new PalisadeError('cli.format', `unknown format ${format}`, { field: '--format', hint: 'table or json' });
  }
}

export function register(program: Command): void {
  const db = program.command('db').description('the vulnerability database: update from osv.dev, import OSV files, status');

  withStoreFlags(db.command('update'))
    .description('download osv.dev archives and import what changed')
    .option('--ecosystem <name>', 'an OSV ecosystem to update (repeatable; default: all supported)', collect, [])
    .option('--base-url <url>', 'a mirror of https://osv-vuln-data.storage.googleapis.com')
    .option('--format <format>', 'table or json', 'table')
    .action(async (flags: DbUpdateFlags, command: Command) => {
      checkFormat(flags.format);
      process.exitCode = await withStore(command, (store) => runDbUpdate(store, flags));
    });

  withServerFlags(db.command('import'))
    .description('import OSV JSON files, directories of them, or zip archives (offline); streamed to the server when one runs')
    .argument('<path...>')
    .option('--format <format>', 'table or json', 'table')
    .action(async (paths: string[], flags: DbImportFlags, command: Command) => {
      checkFormat(flags.format);
      const server = runningServer(command);
      process.exitCode = server
        ? await runDbImportThroughServer(server, paths, flags)
        : await withStore(command, (store) => runDbImport(store, paths, flags));
    });

  withServerFlags(db.command('status'))
    .description('advisories per ecosystem, newest modified time, last update (asks the server when one runs)')
    .option('--format <format>', 'table or json', 'table')
    .action(async (flags: DbStatusFlags, command: Command) => {
      checkFormat(flags.format);
      const server = runningServer(command);
      if (server) {
        printDbStatus(await remoteApi(server).request<DbStatusDocument>('GET', '/db/status'), flags, consoleOutput());
        process.exitCode = 0;
        return;
      }
      process.exitCode = await withStore(command, (store) => runDbStatus(store, flags));
    });
}
