import { createWriteStream } from 'node:fs';
import { SingleBar, Presets } from 'cli-progress';
import { Option, type Command } from 'commander';
import { PalisadeError } from '../core/index.js';
import {
  applyFilters,
  parseSeverityList,
  readVex,
  scanImage,
  type AnalysisProgress,
  type RegistryCredentials,
  type ReportFilters,
  type ScanReport,
} from '../image/index.js';
import { renderCycloneDx } from '../image/formats/cyclonedx.js';
import { renderSarif } from '../image/formats/sarif.js';
import { renderTable } from '../image/formats/table.js';
import type { Store } from '../store/index.js';
import { withStore, withStoreFlags } from './shared.js';

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
      return renderTable(report, process.stdout.columns ?? 160);
  }
}

/** Runs one scan; the returned number is the process exit code. */
export async function runScan(store: Store, image: string, flags: ScanFlags, out: ScanOutput): Promise<number> {
  const format = flags.format ?? (out.isTTY ? 'table' : 'json');
  const exitCode = flags.exitCode === undefined ? 0 : Number(flags.exitCode);
  if (!Number.isInteger(exitCode) || exitCode < 0 || exitCode > 255) {
    throw new PalisadeError('scan.exit-code.invalid', `--exit-code must be 0-255, got "${flags.exitCode}"`, { field: 'exit-code' });
  }
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
      store,
      ...(flags.platform ? { platform: flags.platform } : {}),
      ...(flags.insecure ? { insecure: true } : {}),
      ...(credentials ? { credentials } : {}),
      ...(bar ? { onProgress: bar.update } : {}),
    });
  } finally {
    bar?.stop();
  }
  report = applyFilters(report, filters);
  for (const w of report.warnings.slice(0, 20)) out.warn(`warning: ${w}`);
  if (report.warnings.length > 20) out.warn(`warning: … and ${report.warnings.length - 20} more`);
  const text = render(report, format);
  if (flags.output) {
    await new Promise<void>((resolve, reject) => createWriteStream(flags.output!).on('error', reject).end(text, () => resolve()));
  } else await out.write(text);
  return report.vulnerabilities.length > 0 ? exitCode : 0;
}

/** Layers done / total, bytes read and files examined, on stderr, only on a terminal. */
function progressBar(stream: NodeJS.WriteStream): { update: (e: AnalysisProgress) => void; stop: () => void } {
  const bar = new SingleBar({ stream, format: 'layers {value}/{total} | {mb} MiB read | {files} files examined', hideCursor: true, clearOnComplete: true }, Presets.shades_classic);
  const layers = new Map<number, { bytes: number; entries: number; done: boolean }>();
  let started = false;
  const refresh = () => {
    const all = [...layers.values()];
    const payload = { mb: (all.reduce((a, l) => a + l.bytes, 0) / 1048576).toFixed(1), files: all.reduce((a, l) => a + l.entries, 0) };
    bar.update(all.filter((l) => l.done).length, payload);
  };
  return {
    update(e) {
      if (e.type === 'layer-start') {
        layers.set(e.index, { bytes: 0, entries: 0, done: false });
        if (!started) {
          started = true;
          bar.start(e.total, 0, { mb: '0.0', files: 0 });
        }
      } else if (e.type === 'layer-progress') {
        layers.set(e.index, { bytes: e.bytes, entries: e.entries, done: false });
      } else {
        const l = layers.get(e.index);
        layers.set(e.index, { bytes: l?.bytes ?? e.bytes, entries: e.entries, done: true });
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
    .option('--severity <list>', 'only report these severities (comma-separated: critical,high,medium,low,informational,unknown)')
    .option('--ignore-unfixed', 'leave out vulnerabilities without a fixed version')
    .option('--exit-code <n>', 'exit with this code when vulnerabilities remain after filtering (for CI gates)')
    .option('--vex <file>', 'OpenVEX document whose not_affected/fixed statements suppress findings')
    .option('--platform <os/arch[/variant]>', 'image to pick from a multi-platform index (default linux/amd64)')
    .option('--insecure', 'talk plain HTTP to the registry (loopback and private registries without TLS)')
    .option('--username <user>', 'registry user name (the password is read with --password-stdin)')
    .option('--password-stdin', 'read the registry password or token from standard input')
    .option('--offline', 'contact nothing but the image registry (scan never downloads advisories; update with `palisade db update`)')
    .option('--no-progress', 'no progress display on a terminal')
    .action(async (image: string, flags: ScanFlags, command: Command) => {
      process.exitCode = await withStore(command, (store) => runScan(store, image, flags, consoleScanOutput()));
    });
}
