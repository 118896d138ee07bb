import { FINDING_SEVERITIES } from '../../core/index.js';
import type { ScanReport } from '../report.js';

/** The terminal table: one block per severity, most severe first; columns package, installed, fixed, id, title, remediation. */
export function renderTable(report: ScanReport, width?: number): string {
  const lines: string[] = [];
  const os = report.os ? `${report.os.prettyName ?? `${report.os.id} ${report.os.version}`}${report.os.distroless ? ' (distroless)' : ''}` : 'unknown OS';
  lines.push(`${report.image.name}${report.image.digest ? ` (${report.image.digest})` : ''}`);
  lines.push(`${os}, ${report.packages.length} packages, ${report.summary.total} vulnerabilities`);
  if (!report.matched) lines.push('no advisory database was consulted: packages only (run `palisade db update` or `palisade db import`)');
  const counts = FINDING_SEVERITIES.filter((s) => report.summary[s] > 0).map((s) => `${s.toUpperCase()}: ${report.summary[s]}`);
  if (counts.length) lines.push(counts.join('  '));
  for (const severity of FINDING_SEVERITIES) {
    const findings = report.vulnerabilities.filter((v) => v.severity === severity);
    if (!findings.length) continue;
    lines.push('', `${severity.toUpperCase()} (${findings.length})`);
    const rows = findings.map((f) => [f.package.name, f.installedVersion, f.fixedVersion ?? '-', f.id, f.title || (f.aliases[0] ?? ''), f.command ?? f.remediation]);
    lines.push(...columns([['PACKAGE', 'INSTALLED', 'FIXED', 'ID', 'TITLE', 'REMEDIATION'], ...rows], width));
  }
  if (report.suppressed.length) {
    const reasons = new Map<string, number>();
    for (const s of report.suppressed) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
    lines.push('', `suppressed: ${[...reasons].map(([r, n]) => `${n} by ${r}`).join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Never cuts a cell (a cut fix command or id misleads): without a width (file, pipe, CI log) rows
 * are whole lines; on a terminal, columns are capped and long cells wrap onto continuation lines.
 */
function columns(rows: string[][], width?: number): string[] {
  const cells = rows.map((r) => r.map((cell) => cell.replace(/\s+/g, ' ')));
  const natural = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const fits = width === undefined || natural.reduce((a, b) => a + b + 2, -2) <= width;
  const caps = [32, 28, 28, 24, 50, Math.max(20, (width ?? 0) - 32 - 28 - 28 - 24 - 50 - 10)];
  const widths = fits ? natural : natural.map((w, i) => Math.min(w, caps[i] ?? w));
  const wrap = (s: string, w: number) => (s.length <= w ? [s] : Array.from({ length: Math.ceil(s.length / w) }, (_, k) => s.slice(k * w, (k + 1) * w)));
  return cells.flatMap((r) => {
    const parts = r.map((cell, i) => wrap(cell, widths[i]!));
    const height = Math.max(...parts.map((p) => p.length));
    return Array.from({ length: height }, (_, line) => parts.map((p, i) => (p[line] ?? '').padEnd(widths[i]!)).join('  ').trimEnd());
  });
}
