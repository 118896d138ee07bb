import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { PalisadeError } from '../core/index.js';
import type { Store } from '../store/index.js';
import {
  DEFAULT_ECOSYSTEMS,
  dbStatus,
  importOsv,
  isKnownEcosystem,
  updateFromOsvDev,
  type ImportReport,
  type ImportWarning,
  type UpdateProgress,
} from '../vulndb/index.js';
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

/** `palisade db status` */
export async function runDbStatus(store: Store, flags: DbStatusFlags, out: DbOutput = consoleOutput()): Promise<number> {
  const status = await dbStatus(store);
  if (flags.format === 'json') {
    out.log(JSON.stringify(status, null, 2));
    return 0;
  }
  out.log(['ECOSYSTEM', 'ADVISORIES', 'NEWEST MODIFIED', 'LAST UPDATE'].join('\t'));
  for (const e of status.ecosystems) {
    out.log([e.ecosystem, String(e.advisories), e.newestModified?.toISOString() ?? '-', e.lastUpdate?.toISOString() ?? '-'].join('\t'));
  }
  out.log(`total: ${status.advisories} advisories${status.lastImport ? `; last import ${status.lastImport.startedAt.toISOString()} (${status.lastImport.status})` : ''}`);
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

  withStoreFlags(db.command('import'))
    .description('import OSV JSON files, directories of them, or zip archives (offline)')
    .argument('<path...>')
    .option('--format <format>', 'table or json', 'table')
    .action(async (paths: string[], flags: DbImportFlags, command: Command) => {
      checkFormat(flags.format);
      process.exitCode = await withStore(command, (store) => runDbImport(store, paths, flags));
    });

  withStoreFlags(db.command('status'))
    .description('advisories per ecosystem, newest modified time, last update')
    .option('--format <format>', 'table or json', 'table')
    .action(async (flags: DbStatusFlags, command: Command) => {
      checkFormat(flags.format);
      process.exitCode = await withStore(command, (store) => runDbStatus(store, flags));
    });
}
