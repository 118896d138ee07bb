import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  BUILTIN_POLICIES, compilePolicySet, parseAdmissionReview, recordAdmission, reviewAdmission, type AdmissionOutcome, type ImageAssessment, type PolicySet,
} from '../../../policy/index.js';
import type { ServerContext } from '../../context.js';
import { Forbidden } from '../../errors.js';
import { CLUSTER_NAME } from '../ingest/cluster.js';
import { IMAGE_POLICY, ImageGate, type ImageGateOptions } from './image-gate.js';

export const ADMISSION_BODY_LIMIT = 8 * 1024 * 1024;

export interface AdmissionRouteOptions {
  context: ServerContext;
  /** The compiled policy set, or a function returning the current one (config reloads); built-ins by default. */
  policies?: PolicySet | (() => PolicySet);
  /** Where non-dry-run decisions go; the store by default. Set to `false` to record nothing. */
  record?: ((outcome: AdmissionOutcome, cluster: string) => Promise<unknown>) | false;
  /** Namespace labels for policies scoped by namespaceSelector (e.g. from the posture scan's namespace list). */
  namespaceLabels?: (namespace: string) => Record<string, string> | undefined;
  /** Deadline, cache lifetimes and sizes of the image lookups behind the image-vulnerabilities policy. */
  imageGate?: ImageGateOptions;
}

/**
 * `POST /admission/validate` (and `/admission/validate/CLUSTER` to name the cluster in records):
 * the validating webhook the API server calls. The API server authenticates us by the TLS
 * certificate it pinned in caBundle; it authenticates itself with a cluster token when its
 * AdmissionConfiguration gives it one (required with `admissionAuth: required`), and that token
 * names the cluster its decisions are recorded under.
 * The answer never waits for the database: the decision is recorded after replying.
 */
export async function admissionRoutes(app: FastifyInstance, options: AdmissionRouteOptions) {
  const { context } = options;
  const fixed = options.policies ?? compilePolicySet(BUILTIN_POLICIES);
  const current = typeof fixed === 'function' ? fixed : () => fixed;
  const record = options.record === false ? undefined
    : options.record ?? ((outcome: AdmissionOutcome, cluster: string) => recordAdmission(context.store.db, outcome, context.clock.now(), cluster, undefined, context.config.admissionLogRetentionDays));

  let gate: ImageGate | undefined;
  /**
   * With image-vulnerabilities on, the images of the object are resolved to digests and stored
   * findings first (async, cached, within the gate's deadline); the policies then run synchronously.
   */
  const assessImages = async (body: unknown, set: PolicySet, cluster: string): Promise<Map<string, ImageAssessment> | undefined> => {
    const policy = set.policies.find((p) => p.definition.id === IMAGE_POLICY && p.effect !== 'disabled');
    if (!policy) return undefined;
    const { request } = parseAdmissionReview(body);
    const namespace = request.object?.metadata?.namespace ?? request.namespace;
    if ((request.operation !== 'CREATE' && request.operation !== 'UPDATE') || !request.object || typeof request.object !== 'object'
      || (namespace !== undefined && policy.excludedNamespaces.has(namespace))) return undefined;
    gate ??= new ImageGate(context, options.imageGate);
    return gate.assess([request.object, request.oldObject], { cluster, requireScan: policy.parameters.requireScan === true, ...(namespace ? { namespace } : {}) });
  };

  const handler = async (request: FastifyRequest) => {
    const named = (request.params as { cluster?: string }).cluster;
    const tokenCluster = request.principal?.cluster;
    if (tokenCluster && named && named !== tokenCluster) {
      throw new Forbidden(`a token for cluster ${tokenCluster} cannot submit reviews for cluster ${named}`);
    }
    const cluster = named ?? tokenCluster ?? 'default';
    const set = current();
    const images = await assessImages(request.body, set, cluster);
    const outcome = reviewAdmission(request.body, set, {
      clock: context.clock, ...(options.namespaceLabels ? { namespaceLabels: options.namespaceLabels } : {}), ...(images ? { images } : {}),
    });
    if (images) warnUnchecked(outcome, images);
    if (record && outcome.record && outcome.results.length) {
      record(outcome, cluster).catch((error: unknown) => request.log.error({ err: error, uid: outcome.request.uid }, 'recording an admission decision failed'));
    }
    return outcome.review;
  };

  const route = {
    config: { auth: 'admission' as const },
    // An object may be up to etcd's 1.5 MiB and an UPDATE carries two of them, JSON-escaped.
    bodyLimit: ADMISSION_BODY_LIMIT,
    schema: {
      tags: ['admission'],
      summary: 'Validate an AdmissionReview v1 against the policies',
      body: { type: 'object' },
    },
  };
  app.post('/admission/validate', route, handler);
  app.post('/admission/validate/:cluster', {
    ...route,
    schema: { ...route.schema, params: { type: 'object', properties: { cluster: CLUSTER_NAME }, required: ['cluster'] } },
  }, handler);
}

/**
 * Without requireScan an image Palisade could not check in time is admitted (fail open, as the
 * webhook's default failurePolicy Ignore): the user is told so in a warning rather than silently.
 */
function warnUnchecked(outcome: AdmissionOutcome, images: Map<string, ImageAssessment>): void {
  if (outcome.results.some((r) => r.policy === IMAGE_POLICY)) return;
  const unchecked = [...images].filter(([, a]) => a.state === 'unresolved').slice(0, 4);
  if (!unchecked.length) return;
  const response = outcome.review.response;
  response.warnings = [...(response.warnings ?? []), ...unchecked.map(([image, a]) => `[${IMAGE_POLICY}] image ${JSON.stringify(image).slice(0, 160)} was not checked for vulnerabilities: ${a.state === 'unresolved' ? a.reason.slice(0, 160) : ''}`)];
}
