import type { ScanReport } from '../report.js';
import { REPORT_SEVERITIES } from '../report.js';

/** The terminal table: one block per severity, most severe first; columns package, installed, fixed, id, title, remediation. */
export function renderTable(report: ScanReport, width = 160): string {
  const lines: string[] = [];
  const os = report.os ? `${report.os.prettyName ?? `${report.os.id} ${report.os.version}`}${report.os.distroless ? ' (distroless)' : ''}` : 'unknown OS';
  lines.push(`${report.image.name}${report.image.digest ? ` (${report.image.digest})` : ''}`);
  lines.push(`${os}, ${report.packages.length} packages, ${report.summary.total} vulnerabilities`);
  if (!report.matched) lines.push('no advisory database was consulted: packages only (run `palisade db update` or `palisade db import`)');
  const counts = REPORT_SEVERITIES.filter((s) => report.summary[s] > 0).map((s) => `${s.toUpperCase()}: ${report.summary[s]}`);
  if (counts.length) lines.push(counts.join('  '));
  for (const severity of REPORT_SEVERITIES) {
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

function columns(rows: string[][], width: number): string[] {
  const caps = [32, 28, 28, 24, 50, 60];
  const widths = caps.map((cap, i) => Math.min(cap, Math.max(...rows.map((r) => (r[i] ?? '').length))));
  const clip = (s: string, w: number) => (s.length > w ? `${s.slice(0, Math.max(0, w - 1))}…` : s.padEnd(w));
  return rows.map((r) => r.map((cell, i) => clip(cell.replace(/\s+/g, ' '), widths[i]!)).join('  ').trimEnd().slice(0, width));
}
