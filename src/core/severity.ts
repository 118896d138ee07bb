/**
 * The one severity scale every Palisade surface shows, most severe first. Rules, policies and
 * alerts are always given one of the five levels; a vulnerability finding may also be `unknown`
 * when neither its vendor nor a CVSS vector rates it, and `unknown` ranks below every level.
 */
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'informational'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The levels plus `unknown`: what a finding, a report filter or a count by severity can name. */
export const FINDING_SEVERITIES = [...SEVERITIES, 'unknown'] as const;
export type FindingSeverity = (typeof FINDING_SEVERITIES)[number];

const RANK = new Map<string, number>(FINDING_SEVERITIES.map((s, i) => [s, FINDING_SEVERITIES.length - 1 - i]));

export function isSeverity(value: unknown): value is Severity {
  return typeof value === 'string' && value !== 'unknown' && RANK.has(value);
}

export function isFindingSeverity(value: unknown): value is FindingSeverity {
  return typeof value === 'string' && RANK.has(value);
}

/**
 * Position on the scale: critical 5 … informational 1, unknown 0. Takes any string because stored
 * rows and API documents carry plain strings; a word not on the scale ranks as `unknown`.
 */
export function severityRank(severity: string): number {
  return RANK.get(severity) ?? 0;
}

/** Positive when `a` is more severe than `b`; sorts most severe first with `(a, b) => compareSeverity(b, a)`. */
export function compareSeverity(a: string, b: string): number {
  return severityRank(a) - severityRank(b);
}

export function atLeast(severity: string, minimum: string): boolean {
  return severityRank(severity) >= severityRank(minimum);
}
