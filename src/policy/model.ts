import type { FindingSeverity, Severity } from '../core/index.js';
import type { PodView } from './kube/pods.js';
import type { KubeObject } from './kube/types.js';

/** What a violation does: deny blocks admission, audit only reports (and warns), disabled skips the policy. */
export type Effect = 'audit' | 'deny' | 'disabled';
export const EFFECTS: readonly Effect[] = ['audit', 'deny', 'disabled'];

/** One thing wrong with one resource, precise enough to fix without reading the policy. */
export interface PolicyViolation {
  message: string;
  container?: string;
  field?: string;
}

export interface PolicyContext<P> {
  object: KubeObject;
  /** The pod or pod template inside the object, when it carries one. */
  pod: PodView | undefined;
  parameters: P;
  /** What is known about each container image, keyed by the image exactly as the manifest writes it (see {@link ImageAssessment}). */
  images?: ReadonlyMap<string, ImageAssessment>;
}

/** One vulnerability finding as a policy names it in a message. */
export interface ImageFindingRef {
  id: string;
  severity: FindingSeverity;
  package: string;
  installedVersion: string;
  fixedVersion?: string;
}

/**
 * An image's stored findings, reduced to what a gate decides on: how many per severity (with and
 * without a fix), and the worst few by name. Bounded whatever the image holds.
 */
export interface ImageFindingsSummary {
  digest: string;
  counts: Partial<Record<FindingSeverity, { fixable: number; unfixable: number }>>;
  /** Most severe first, fixable before unfixable within a severity; a few per severity and fix state. */
  worst: ImageFindingRef[];
}

/**
 * What Palisade knows about one container image before a policy runs: policies stay synchronous
 * and pure, so whoever evaluates (the admission route) resolves images to digests and stored
 * findings first and passes the answers in.
 * - `scanned`: resolved to a digest Palisade has scanned; its findings (after VEX and exemptions).
 * - `exempt`: a recommendation exemption in force covers this image; `reason` says which.
 * - `unscanned`: Palisade has no scan of it; `reason` says why (registry not connected, scan did not finish in time...).
 * - `unresolved`: could not be decided (timeout, registry error); `reason` says what failed.
 */
export type ImageAssessment =
  | { state: 'scanned'; summary: ImageFindingsSummary }
  | { state: 'exempt'; digest: string; reason: string }
  | { state: 'unscanned'; digest?: string; reason: string }
  | { state: 'unresolved'; reason: string };

/**
 * A policy is data (id, title, severity, parameters with defaults, samples) plus one evaluator.
 * Like gatekeeper-library, each lives in its own folder beside `example_allowed.yaml` and
 * `example_disallowed.yaml`, which the test suite runs with `sample.parameters`.
 */
export interface PolicyDefinition<P extends object = Record<string, unknown>> {
  id: string;
  title: string;
  description: string;
  severity: Severity;
  remediation: string;
  /** Secure-score control this policy counts toward. */
  control: string;
  /** `pods`: any kind carrying a pod (Pod, Deployment, ..., CronJob); otherwise the listed kinds. */
  appliesTo: 'pods' | readonly string[];
  defaults: { effect: Effect; parameters: P };
  /**
   * On UPDATE with an oldObject: `always` reports every violation; `new-violations` reports only
   * violations the old object did not already have, so unrelated edits (scaling, labels) of a
   * workload that predates the policy are not blocked.
   */
  onUpdate: 'always' | 'new-violations';
  /** Parameters (and, for policies that read images, image assessments) the example manifests are evaluated with. */
  sample?: { parameters?: Partial<P>; images?: Record<string, ImageAssessment> };
  /**
   * `image-assessments`: the policy judges images by what Palisade knows of them, which only an
   * evaluator that passes `images` (admission) can tell; elsewhere (posture scans, `policy check`)
   * every resource is not applicable rather than falsely healthy.
   */
  needs?: 'image-assessments';
  evaluate(ctx: PolicyContext<P>): PolicyViolation[];
  /** Problems with merged parameters, checked once when the configuration is compiled. */
  validate?(parameters: P): string[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPolicy = PolicyDefinition<any>;

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

/** Per-policy settings a user writes; every field optional, defaults from the definition. */
export interface PolicySettings {
  effect?: Effect;
  excludedNamespaces?: string[];
  namespaceSelector?: LabelSelector;
  labelSelector?: LabelSelector;
  parameters?: Record<string, unknown>;
}

/** A time-boxed, justified exemption. */
export interface PolicyException {
  /** Policy ids, or `*` for all. */
  policies: string[];
  namespace?: string;
  name?: string;
  kind?: string;
  labels?: Record<string, string>;
  /** ISO date or timestamp; the exception stops applying after it. */
  expires: string;
  reason: string;
}

export interface PolicyConfig {
  policies?: Record<string, PolicySettings>;
  exceptions?: PolicyException[];
}

/** The namespaces every policy skips unless told otherwise (issue 8). */
export const DEFAULT_EXCLUDED_NAMESPACES = ['kube-system', 'gatekeeper-system', 'palisade'];

export interface ResourceId {
  kind: string;
  namespace?: string;
  name: string;
}

/** One violation in `policy check --format json` and everywhere else. */
export interface PolicyResult {
  resource: ResourceId;
  policy: string;
  effect: Exclude<Effect, 'disabled'>;
  severity: Severity;
  message: string;
  container?: string;
  field?: string;
}
