import type { ResourceRef } from './resource.js';
import type { FindingSeverity, Severity } from './severity.js';

/** The domain nouns of DESIGN.md, shared by every capability and surface. */

export type AlertSource = 'audit' | 'agent' | 'registry' | 'admission';
export type AlertStatus = 'active' | 'dismissed' | 'resolved';

/** A detected threat. The same rule on the same resource within a window updates one alert. */
export interface Alert {
  id: string;
  rule: string;
  title: string;
  severity: Severity;
  tactic: string;
  technique?: string;
  resource: ResourceRef;
  evidence: unknown[];
  remediation: string;
  source: AlertSource;
  firstSeen: Date;
  lastSeen: Date;
  count: number;
  status: AlertStatus;
}

export type FindingStatus = 'fixed' | 'unfixed' | 'wont-fix';

/** The installed package a finding is in, as the image's inventory lists it. */
export interface FindingPackage {
  name: string;
  version: string;
  ecosystem: string;
  purl: string;
  /** The source package advisories name (dpkg, rpm), when it differs from `name`. */
  sourceName?: string;
  sourceVersion?: string;
  /** Digest of the layer that introduced the package. */
  layer?: string;
}

/**
 * One vulnerability in one installed package of an image: what matching produces, what the center
 * stores per image digest and what every report prints (`palisade scan --format json`
 * vulnerabilities[], `GET /api/v1/images/{digest}/findings` items, SARIF, CycloneDX, tables).
 */
export interface Finding {
  id: string;
  /** Every other id of the same vulnerability (CVE, DSA, DLA, GHSA, ...), sorted. */
  aliases: string[];
  title: string;
  package: FindingPackage;
  installedVersion: string;
  fixedVersion?: string;
  severity: FindingSeverity;
  /** Where the severity comes from: `Debian`, `GHSA`, `CVSS_V3`, ... or `none`. */
  severitySource: string;
  cvssScore?: number;
  cvssVector?: string;
  status: FindingStatus;
  remediation: string;
  command?: string;
  /** The advisory records that matched (their ids), for re-matching after database updates. */
  advisoryIds: string[];
}

/** A policy evaluated over resources. */
export interface Recommendation {
  policy: string;
  title: string;
  severity: Severity;
  remediation: string;
  healthy: ResourceRef[];
  unhealthy: ResourceRef[];
  notApplicable: ResourceRef[];
  /** The secure-score control it counts toward (Defender's grouping); absent: it carries no points. */
  control?: string;
}

export type PlanKind = 'kubernetes' | 'registries';

/** Usage is metered whether a plan is on or off; findings are produced only where it is on. */
export interface Plan {
  kind: PlanKind;
  /** `cluster:NAME` or `registry:NAME`. */
  scope: string;
  enabled: boolean;
  since: Date;
}
