import type { Command } from 'commander';
import { PalisadeError } from '../core/index.js';
import {
  AuditDetector, alertJson, alertRow, alertTable, auditReport, errorLine, followAuditFile, isActivity, loadAuditRules, readAuditFile,
  type AuditAlert, type AuditEvent, type AuditInputError, type AuditSink,
} from '../audit/index.js';

const MAX_LISTED_ERRORS = 1000;
const CHUNK = 1000;

interface AnalyzeFlags {
  format: string;
  follow?: boolean;
  cluster: string;
  rulesDir?: string;
  exitCode: string;
}

/** Feeds decoded events to the detector in chunks, so a huge log never sits in memory. */
class DetectorSink implements AuditSink {
  readonly errors: AuditInputError[] = [];
  omitted = 0;
  private pending: AuditEvent[] = [];
  readonly alerts = new Map<string, AuditAlert>();

  constructor(private readonly detector: AuditDetector, private readonly onAlert?: (a: AuditAlert) => void) {}

  event(event: AuditEvent): void {
    this.pending.push(event);
    if (this.pending.length >= CHUNK) this.drain();
  }

  error(error: AuditInputError): void {
    if (this.errors.length < MAX_LISTED_ERRORS) this.errors.push(error);
    else this.omitted++;
    if (this.onAlert) console.error(`palisade: ${errorLine(error)}`);
  }

  drain(): void {
    const batch = this.pending;
    this.pending = [];
    for (const alert of this.detector.process(batch)) {
      this.alerts.set(alert.id, alert);
      this.onAlert?.(alert);
    }
  }
}

export function register(program: Command): void {
  const audit = program.command('audit').description('Kubernetes threat detection from API-server audit logs');

  audit.command('analyze')
    .description('read audit logs (JSON lines, rotated or gzipped; EventList/array documents; AKS, EKS and GKE exports) and print alerts')
    .argument('<file...>', 'audit log files')
    .option('--format <format>', 'table or json', 'table')
    .option('--follow', 'keep reading what is appended to the files and print alerts as they happen')
    .option('--cluster <name>', 'cluster name for events whose source names none', 'default')
    .option('--rules-dir <dir>', 'directory of extra rules and overrides (PALISADE_RULES_DIR)')
    .option('--exit-code <n>', 'exit with N when an alert was raised', '0')
    .action(async (files: string[], flags: AnalyzeFlags) => {
      if (!['table', 'json'].includes(flags.format)) {
        throw new PalisadeError('cli.bad_format', `unknown format ${JSON.stringify(flags.format)}`, { field: '--format', hint: 'use table or json' });
      }
      const exitCode = Number(flags.exitCode);
      if (!Number.isInteger(exitCode) || exitCode < 0 || exitCode > 255) {
        throw new PalisadeError('cli.bad_exit_code', '--exit-code must be an integer 0-255', { field: '--exit-code' });
      }
      const rules = loadAuditRules(flags.rulesDir ? { dir: flags.rulesDir } : {});
      const detector = new AuditDetector({ rules, cluster: flags.cluster });

      if (flags.follow) {
        // Streaming output: one JSON object per line (json) or one row per alert update (table).
        if (flags.format === 'table') console.log(alertTable([]));
        const print = (a: AuditAlert) => console.log(flags.format === 'json' ? JSON.stringify(alertJson(a)) : alertRow(a));
        const sink = new DetectorSink(detector, print);
        const controller = new AbortController();
        process.once('SIGINT', () => controller.abort());
        process.once('SIGTERM', () => controller.abort());
        await Promise.all(files.map((file) => followAuditFile(file, sink, { signal: controller.signal, onBatch: () => sink.drain() })));
        sink.drain();
        return;
      }

      const sink = new DetectorSink(detector);
      for (const file of files) await readAuditFile(file, sink);
      sink.drain();
      // Informational records (who created and deleted what) are listed apart and never set the exit code.
      const all = [...sink.alerts.values()];
      const alerts = all.filter((a) => !isActivity(a));
      const activity = all.filter(isActivity);
      if (flags.format === 'json') {
        console.log(JSON.stringify(auditReport(all, sink.errors, detector.eventCount, sink.omitted), null, 2));
      } else {
        console.log(alertTable(alerts));
        if (activity.length) console.log(`\nACTIVITY\n${alertTable(activity)}`);
        for (const e of sink.errors) console.error(`palisade: ${errorLine(e)}`);
        console.error(`${detector.eventCount} events, ${alerts.length} alerts, ${activity.length} activity records, ${sink.errors.length + sink.omitted} bad records`);
      }
      if (exitCode && alerts.length > 0) process.exitCode = exitCode;
    });
}
