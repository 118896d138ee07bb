import type { ResourceRef } from './resource.js';
import type { Severity } from './severity.js';

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

export interface PackageRef {
  name: string;
  version: string;
  ecosystem: string;
  purl: string;
  /** Digest of the layer that introduced the package. */
  layer?: string;
}

/** One vulnerability in one image. */
export interface Finding {
  imageDigest: string;
  package: PackageRef;
  advisoryIds: string[];
  severity: Severity | 'unknown';
  fixedVersion?: string;
  status: FindingStatus;
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
