import { compareSeverity } from '../core/index.js';
import type { AuditAlert } from './detect.js';
import type { AuditInputError } from './event.js';

/**
 * The `palisade audit analyze --format json` document (docs/ and DESIGN.md "Interfaces"):
 * `{ alerts: [{ rule, title, severity, tactic, technique, resource, evidence, count, firstSeen, lastSeen, ... }], errors, events }`.
 */
export interface AuditReport {
  alerts: Array<Pick<AuditAlert, 'rule' | 'title' | 'severity' | 'tactic' | 'technique' | 'matrix' | 'resource' | 'evidence' | 'count' | 'remediation'> & { firstSeen: string; lastSeen: string }>;
  /** Informational records (Falco's activity rules: what was created and deleted), same shape as alerts. */
  activity: AuditReport['alerts'];
  errors: AuditInputError[];
  /** Bad-input errors beyond the ones listed (a broken file can have millions). */
  errorsOmitted?: number;
  events: number;
}

/** Most severe first, then oldest first. */
export function sortAlerts(alerts: AuditAlert[]): AuditAlert[] {
  return [...alerts].sort((a, b) => compareSeverity(b.severity, a.severity) || a.firstSeen.getTime() - b.firstSeen.getTime() || a.rule.localeCompare(b.rule));
}

export function alertJson(a: AuditAlert): AuditReport['alerts'][number] {
  return {
    rule: a.rule, title: a.title, severity: a.severity, tactic: a.tactic, technique: a.technique, matrix: a.matrix,
    resource: a.resource, evidence: a.evidence, count: a.count,
    firstSeen: a.firstSeen.toISOString(), lastSeen: a.lastSeen.toISOString(), remediation: a.remediation,
  };
}

/** Informational records are activity to list, not threats to act on. */
export function isActivity(alert: Pick<AuditAlert, 'severity'>): boolean {
  return alert.severity === 'informational';
}

export function auditReport(alerts: AuditAlert[], errors: AuditInputError[], events: number, errorsOmitted = 0): AuditReport {
  const sorted = sortAlerts(alerts);
  return {
    alerts: sorted.filter((a) => !isActivity(a)).map(alertJson),
    activity: sorted.filter(isActivity).map(alertJson),
    errors, ...(errorsOmitted ? { errorsOmitted } : {}), events,
  };
}

function pad(text: string, width: number): string {
  return text.length > width ? text.slice(0, width - 1) + '…' : text.padEnd(width);
}

export function alertRow(a: AuditAlert): string {
  return [pad(a.severity.toUpperCase(), 13), pad(a.rule, 38), pad(a.resource.id, 44), pad(String(a.count), 6), pad(a.lastSeen.toISOString(), 25), a.title].join(' ');
}

export function alertTable(alerts: AuditAlert[]): string {
  const header = [pad('SEVERITY', 13), pad('RULE', 38), pad('RESOURCE', 44), pad('COUNT', 6), pad('LAST SEEN', 25), 'TITLE'].join(' ');
  return [header, ...sortAlerts(alerts).map(alertRow)].join('\n');
}

export function errorLine(e: AuditInputError): string {
  const where = [e.file, e.line !== undefined ? `line ${e.line}` : undefined, e.index !== undefined ? `item ${e.index}` : undefined].filter(Boolean).join(' ');
  return `${where ? where + ': ' : ''}${e.message} [${e.code}]`;
}
