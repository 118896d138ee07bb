/**
 * One page of an image's findings as the images page and the CLI read them: worst first, filtered
 * in the database (severity at or above, fixable only, package name, vulnerability id or alias,
 * VEX suppression) and continued by keyset, so a large image is read a page at a time and nothing
 * is cut silently. The sort position of each row is returned with it: the route encodes it as the
 * cursor of the next page.
 */
import { sql, type Kysely, type SqlBool } from 'kysely';
import { FINDING_SEVERITIES, type Finding, type FindingSeverity } from '../core/index.js';
import type { Database } from '../store/index.js';

export const SUPPRESSION_MODES = ['include', 'exclude', 'only'] as const;
export type SuppressionMode = (typeof SUPPRESSION_MODES)[number];

export interface FindingsPageFilter {
  /** At or above this severity (`unknown` ranks below `informational`, so it lists everything). */
  severity?: FindingSeverity;
  /** Only findings with a fixed version to upgrade to. */
  fixable?: boolean;
  /** Part of the package name, any case. */
  package?: string;
  /** Part of the vulnerability id or of one of its aliases (CVE, GHSA, DSA, …), any case. */
  text?: string;
  /** VEX `not_affected`/`fixed` findings: listed last (include, the default), left out, or alone. */
  suppressed?: SuppressionMode;
}

/** Where a row sorts: suppressed last, worst severity first, fixable first, then id and package. */
export type FindingsPosition = [suppressed: number, severity: number, unfixable: number, vulnerability: string, purl: string];

export interface FindingsPage {
  rows: Array<{ position: FindingsPosition; finding: Finding }>;
  /** How many findings match the filters (all pages). */
  total: number;
  /** Of those, how many a VEX statement suppresses (listed, not counted in the image's severity counts). */
  suppressed: number;
}

/** 0 for critical … 5 for unknown: ascending order is worst first. */
const severityOrder = sql<number>`case findings.severity ${sql.join(FINDING_SEVERITIES.map((s, i) => sql`when ${s} then ${sql.lit(i)}`), sql` `)} else ${sql.lit(FINDING_SEVERITIES.length - 1)} end`;
/** A VEX not_affected or fixed statement speaks for the finding: the column migration 0740 derives from `detail.vex`. */
const suppressedExpr = sql<boolean>`findings.suppressed`;
const suppressedOrder = sql<number>`(case when ${suppressedExpr} then 1 else 0 end)`;
const unfixableOrder = sql<number>`(case when findings.fixed_version is null then 1 else 0 end)`;

/** Whether a decoded cursor is a position this module returned. */
export function isFindingsPosition(value: unknown): value is FindingsPosition {
  return Array.isArray(value) && value.length === 5
    && [0, 1, 2].every((i) => Number.isInteger(value[i]) && (value[i] as number) >= 0 && (value[i] as number) < 10)
    && typeof value[3] === 'string' && typeof value[4] === 'string';
}

export async function findingsPage(db: Kysely<Database>, digest: string, filter: FindingsPageFilter, page: { after?: FindingsPosition; limit: number }): Promise<FindingsPage> {
  const conditions = [sql<SqlBool>`findings.digest = ${digest}`];
  if (filter.severity) conditions.push(sql<SqlBool>`${severityOrder} <= ${FINDING_SEVERITIES.indexOf(filter.severity)}`);
  if (filter.fixable) conditions.push(sql<SqlBool>`findings.fixed_version is not null`);
  // strpos, not LIKE: a name or id with `%` or `_` in it is matched literally.
  if (filter.package) conditions.push(sql<SqlBool>`strpos(lower(findings.package_name), ${filter.package.toLowerCase()}) > 0`);
  if (filter.text) {
    conditions.push(sql<SqlBool>`(strpos(lower(findings.vulnerability), ${filter.text.toLowerCase()}) > 0
      or exists (select 1 from jsonb_array_elements_text(findings.aliases) alias where strpos(lower(alias), ${filter.text.toLowerCase()}) > 0))`);
  }
  if (filter.suppressed === 'exclude') conditions.push(sql<SqlBool>`not ${suppressedExpr}`);
  if (filter.suppressed === 'only') conditions.push(sql<SqlBool>`${suppressedExpr}`);
  const where = sql.join(conditions, sql` and `);

  const after = page.after;
  const keyset = after
    ? sql<SqlBool>` and (${suppressedOrder}, ${severityOrder}, ${unfixableOrder}, findings.vulnerability, findings.purl) > (${after[0]}, ${after[1]}, ${after[2]}, ${after[3]}, ${after[4]})`
    : sql``;
  const [rows, count] = await Promise.all([
    sql<{ suppressed: number; severity: number; unfixable: number; vulnerability: string; purl: string; detail: Finding }>`
      select ${suppressedOrder} as suppressed, ${severityOrder} as severity, ${unfixableOrder} as unfixable, findings.vulnerability, findings.purl, findings.detail
      from findings where ${where}${keyset}
      order by 1, 2, 3, findings.vulnerability, findings.purl
      limit ${page.limit}`.execute(db),
    sql<{ total: string | number; suppressed: string | number }>`select count(*) as total, count(*) filter (where ${suppressedExpr}) as suppressed from findings where ${where}`.execute(db),
  ]);
  return {
    rows: rows.rows.map((r) => ({
      position: [Number(r.suppressed), Number(r.severity), Number(r.unfixable), r.vulnerability, r.purl],
      finding: r.detail,
    })),
    total: Number(count.rows[0]?.total ?? 0),
    suppressed: Number(count.rows[0]?.suppressed ?? 0),
  };
}
