import { createWriteStream, existsSync } from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { FINDING_SEVERITIES, lazyModule, PalisadeError, systemClock } from '../core/index.js';
import {
  applyFilters,
  parseSeverityList,
  readVex,
  renderCycloneDx,
  renderSarif,
  renderTable,
  directoryLayerCache,
  scanImage,
  type AnalysisProgress,
  type RegistryCredentials,
  type ReportFilters,
  type ScanReport,
} from '../image/index.js';
import type { Store } from '../store/index.js';
import { AdvisoryFile, currentAdvisoryFile, fileStatus, openDataDirAdvisoryFile, palisadeCacheDir, type DbStatus } from '../vulndb/index.js';
import { configFor, withStore, withStoreFlags } from './shared.js';

/** `palisade scan IMAGE`: analyze an image (any transport), match it against the advisory database, print a report. */

export interface ScanFlags {
  format?: 'table' | 'json' | 'sarif' | 'cyclonedx';
  output?: string;
  severity?: string;
  ignoreUnfixed?: boolean;
  exitCode?: string;
  platform?: string;
  insecure?: boolean;
  username?: string;
  passwordStdin?: boolean;
  vex?: string;
  offline?: boolean;
  progress?: boolean;
  allowEmptyDb?: boolean;
  maxDbAge?: string;
  cacheDir?: string;
}

/** Grype's default for a usable database (max-allowed-built-age 120h): older than this is stale. */
export const DEFAULT_MAX_DB_AGE_HOURS = 120;

/** What the report says about the advisory database it was matched against. */
export interface AdvisoryDatabaseInfo {
  advisories: number;
  /** The import run that last changed it: the database's version. */
  version: string | null;
  updatedAt: string | null;
  ageHours: number | null;
  stale: boolean;
}

/** What scan matches against: the advisory file of a store, one opened without a database, or none yet. */
export type AdvisorySource = Store | AdvisoryFile | undefined;

async function advisoryFileOf(source: AdvisorySource): Promise<AdvisoryFile | undefined> {
  return source === undefined || source instanceof AdvisoryFile ? source : currentAdvisoryFile(source);
}

export async function advisoryDatabaseInfo(source: AdvisorySource, maxAgeHours: number, now = systemClock.now()): Promise<AdvisoryDatabaseInfo> {
  const file = await advisoryFileOf(source);
  const status: DbStatus = file ? fileStatus(file) : { advisories: 0, ecosystems: [] };
  const times = [...status.ecosystems.map((e) => e.lastUpdate?.getTime()), status.lastImport?.finishedAt?.getTime() ?? status.lastImport?.startedAt.getTime()]
    .filter((t): t is number => t !== undefined);
  const updated = times.length ? Math.max(...times) : undefined;
  const age = updated === undefined ? undefined : (now.getTime() - updated) / 3_600_000;
  return {
    advisories: status.advisories,
    version: status.lastImport?.id ?? null,
    updatedAt: updated === undefined ? null : new Date(updated).toISOString(),
    ageHours: age === undefined ? null : Math.round(age * 10) / 10,
    stale: age === undefined || age > maxAgeHours,
  };
}

/**
 * A CI gate (`--exit-code`) over an empty or stale database would pass images it cannot judge:
 * refuse (exit 2) unless the user says that is what they want.
 */
function checkGateDatabase(database: AdvisoryDatabaseInfo, maxAgeHours: number): void {
  if (database.advisories === 0) {
    throw new PalisadeError('scan.advisory_db.empty', 'the advisory database is empty, so --exit-code cannot fail on vulnerabilities', {
      field: 'exit-code',
      hint: 'run `palisade db update` (or `palisade db import` offline) first, or pass --allow-empty-db',
    });
  }
  if (database.stale) {
    throw new PalisadeError('scan.advisory_db.stale', `the advisory database was last updated ${database.updatedAt ?? 'never'} (${database.ageHours ?? '?'} h ago, limit ${maxAgeHours} h), so --exit-code would judge against old advisories`, {
      field: 'exit-code',
      hint: 'run `palisade db update` first, raise --max-db-age, or pass --allow-empty-db',
    });
  }
}

export interface ScanOutput {
  write(text: string): Promise<void> | void;
  warn(line: string): void;
  /** Set only for a terminal: where the progress bar draws. */
  progress?: NodeJS.WriteStream;
  isTTY: boolean;
  readStdin(): Promise<string>;
}

const VERSION = '0.1.0';

export const consoleScanOutput = (): ScanOutput => ({
  write: (text) => new Promise<void>((resolve) => (process.stdout.write(text) ? resolve() : process.stdout.once('drain', () => resolve()))),
  warn: (line) => console.error(line),
  ...(process.stderr.isTTY ? { progress: process.stderr } : {}),
  isTTY: process.stdout.isTTY === true,
  async readStdin() {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
});

export function render(report: ScanReport, format: NonNullable<ScanFlags['format']>): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'sarif':
      return renderSarif(report, VERSION);
    case 'cyclonedx':
      return renderCycloneDx(report, VERSION);
    default:
      // Outside a terminal rows are whole (a file, a pipe, a CI log): never cut a fix command.
      return renderTable(report, process.stdout.isTTY ? process.stdout.columns : undefined);
  }
}

/** Runs one scan; the returned number is the process exit code. */
export async function runScan(source: AdvisorySource, image: string, flags: ScanFlags, out: ScanOutput): Promise<number> {
  const format = flags.format ?? (out.isTTY ? 'table' : 'json');
  const exitCode = flags.exitCode === undefined ? 0 : Number(flags.exitCode);
  if (!Number.isInteger(exitCode) || exitCode < 0 || exitCode > 255) {
    throw new PalisadeError('scan.exit-code.invalid', `--exit-code must be 0-255, got "${flags.exitCode}"`, { field: 'exit-code' });
  }
  const maxDbAge = flags.maxDbAge === undefined ? DEFAULT_MAX_DB_AGE_HOURS : Number(flags.maxDbAge);
  if (!Number.isFinite(maxDbAge) || maxDbAge <= 0) {
    throw new PalisadeError('scan.max-db-age.invalid', `--max-db-age must be a positive number of hours, got "${flags.maxDbAge}"`, { field: 'max-db-age' });
  }
  const advisories = await advisoryFileOf(source);
  const database = await advisoryDatabaseInfo(advisories, maxDbAge);
  if (exitCode > 0 && !flags.allowEmptyDb) checkGateDatabase(database, maxDbAge);
  const filters: ReportFilters = {
    ...(flags.severity ? { severities: parseSeverityList(flags.severity) } : {}),
    ...(flags.ignoreUnfixed ? { ignoreUnfixed: true } : {}),
    ...(flags.vex ? { vex: await readVex(flags.vex) } : {}),
  };
  let credentials: RegistryCredentials | undefined;
  if (flags.passwordStdin && !flags.username) throw new PalisadeError('scan.credentials.invalid', '--password-stdin needs --username', { field: 'username' });
  if (flags.username) {
    if (!flags.passwordStdin) throw new PalisadeError('scan.credentials.invalid', '--username needs --password-stdin', { field: 'password-stdin', hint: 'pipe the password: echo "$TOKEN" | palisade scan --username USER --password-stdin IMAGE' });
    const password = (await out.readStdin()).replace(/\r?\n$/, '');
    if (!password) throw new PalisadeError('scan.credentials.invalid', 'no password on standard input', { field: 'password-stdin' });
    credentials = { username: flags.username, password };
  }

  const bar = flags.progress !== false && out.progress ? progressBar(out.progress) : undefined;
  let report: ScanReport;
  try {
    // --offline: scanning never fetches advisories anyway; the flag promises it (only the registry is contacted).
    report = await scanImage(image, {
      ...(source !== undefined && !(source instanceof AdvisoryFile) ? { store: source } : {}),
      ...(advisories ? { advisories } : {}),
      ...(flags.platform ? { platform: flags.platform } : {}),
      ...(flags.insecure ? { insecure: true } : {}),
      ...(credentials ? { credentials } : {}),
      // Without a store (a one-shot scan) layer analyses are kept in a plain directory.
      ...(source === undefined || source instanceof AdvisoryFile ? { cache: directoryLayerCache(flags.cacheDir ?? palisadeCacheDir()) } : {}),
      ...(bar ? { onProgress: bar.update } : {}),
    });
  } finally {
    bar?.stop();
  }
  report = applyFilters(report, filters);
  if (!advisories) report.warnings.unshift('there is no advisory database yet: run `palisade db update` or `palisade db import FILES` (packages are listed, nothing is matched)');
  if (database.advisories > 0 && database.stale) out.warn(`warning: the advisory database is ${database.ageHours} h old; run \`palisade db update\``);
  for (const w of report.warnings.slice(0, 20)) out.warn(`warning: ${w}`);
  if (report.warnings.length > 20) out.warn(`warning: … and ${report.warnings.length - 20} more`);
  const text = render({ ...report, database } as ScanReport, format);
  if (flags.output) {
    await new Promise<void>((resolve, reject) => createWriteStream(flags.output!).on('error', reject).end(text, () => resolve()));
  } else await out.write(text);
  return report.vulnerabilities.length > 0 ? exitCode : 0;
}

const progressLibrary = lazyModule<typeof import('cli-progress')>('cli-progress');

/**
 * Layers done / total, compressed bytes read of the bytes to read, and files examined, on stderr,
 * only on a terminal. Bytes are the layer blobs as fetched (what a slow link waits for); layers
 * already analysed (cached) are not read and do not count.
 */
export function progressBar(stream: NodeJS.WriteStream): { update: (e: AnalysisProgress) => void; stop: () => void } {
  // Loaded here, on a terminal only: a scan in CI never draws a bar and does not pay for loading it.
  const { SingleBar, Presets } = progressLibrary();
  const bar = new SingleBar({ stream, format: 'layers {value}/{total} | {read} of {size} MiB read | {files} files examined', hideCursor: true, clearOnComplete: true }, Presets.shades_classic);
  const layers = new Map<number, { size: number; read: number; entries: number; cached: boolean; done: boolean }>();
  let started = false;
  const mib = (n: number) => (n / 1048576).toFixed(1);
  const refresh = () => {
    const all = [...layers.values()];
    const toRead = all.filter((l) => !l.cached);
    bar.update(all.filter((l) => l.done).length, {
      read: mib(toRead.reduce((a, l) => a + l.read, 0)),
      size: mib(toRead.reduce((a, l) => a + l.size, 0)),
      files: all.reduce((a, l) => a + l.entries, 0),
    });
  };
  return {
    update(e) {
      if (e.type === 'layer-start') {
        layers.set(e.index, { size: e.size, read: 0, entries: 0, cached: e.cached, done: false });
        if (!started) {
          started = true;
          bar.start(e.total, 0, { read: '0.0', size: '0.0', files: 0 });
        }
      } else if (e.type === 'layer-progress') {
        const l = layers.get(e.index);
        if (l) layers.set(e.index, { ...l, read: e.compressedBytes, entries: e.entries });
      } else {
        const l = layers.get(e.index);
        // A finished layer was read whole, whatever the last progress event said.
        if (l) layers.set(e.index, { ...l, read: l.cached ? 0 : l.size, entries: e.entries, done: true });
      }
      refresh();
    },
    stop: () => (started ? bar.stop() : undefined),
  };
}

export function register(program: Command): void {
  withStoreFlags(program.command('scan'))
    .description('scan a container image for vulnerabilities: REF or docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG]')
    .argument('<image>', 'the image to scan')
    .addOption(new Option('--format <format>', 'output format (default: table on a terminal, json otherwise)').choices(['table', 'json', 'sarif', 'cyclonedx']))
    .option('-o, --output <file>', 'write the report to a file instead of standard output')
    .option('--severity <list>', `only report these severities (comma-separated: ${FINDING_SEVERITIES.join(',')})`)
    .option('--ignore-unfixed', 'leave out vulnerabilities without a fixed version')
    .option('--exit-code <n>', 'exit with this code when vulnerabilities remain after filtering (for CI gates); exit 2 when the advisory database is empty or stale')
    .option('--allow-empty-db', 'let --exit-code pass on an empty or stale advisory database')
    .option('--max-db-age <hours>', `advisory database age beyond which it is stale (default ${DEFAULT_MAX_DB_AGE_HOURS})`)
    .option('--vex <file>', 'OpenVEX document whose not_affected/fixed statements suppress findings')
    .option('--platform <os/arch[/variant]>', 'image to pick from a multi-platform index (default linux/amd64)')
    .option('--insecure', 'talk plain HTTP to the registry (loopback and private registries without TLS)')
    .option('--username <user>', 'registry user name (the password is read with --password-stdin)')
    .option('--password-stdin', 'read the registry password or token from standard input')
    .option('--offline', 'contact nothing but the image registry (scan never downloads advisories; update with `palisade db update`)')
    .option('--no-progress', 'no progress display on a terminal')
    .option('--cache-dir <dir>', 'where a scan without a database server keeps layer analyses (default $XDG_CACHE_HOME/palisade or ~/.cache/palisade; PALISADE_CACHE_DIR)')
    .action(async (image: string, flags: ScanFlags, command: Command) => {
      process.exitCode = await withAdvisories(command, (source) => runScan(source, image, flags, consoleScanOutput()));
    });
}

/**
 * A one-shot scan opens no database: it reads the advisory file `db update`/`db import` left beside
 * the embedded database. PostgreSQL users fetch the current file from the store (cached locally
 * per version); an embedded data directory from before the file existed gets it built once.
 */
async function withAdvisories(command: Command, work: (source: AdvisorySource) => Promise<number>): Promise<number> {
  const config = configFor(command);
  if (!config.databaseUrl) {
    const file = openDataDirAdvisoryFile(config.dataDir);
    if (file) {
      try {
        return await work(file);
      } finally {
        file.close();
      }
    }
    if (!existsSync(path.join(config.dataDir, 'pgdata'))) return work(undefined);
  }
  return withStore(command, (store) => work(store));
}
