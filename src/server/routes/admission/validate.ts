import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  BUILTIN_POLICIES, compilePolicySet, recordAdmission, reviewAdmission, type AdmissionOutcome, type PolicySet,
} from '../../../policy/index.js';
import type { ServerContext } from '../../context.js';
import { Forbidden } from '../../errors.js';
import { CLUSTER_NAME } from '../ingest/cluster.js';

export const ADMISSION_BODY_LIMIT = 8 * 1024 * 1024;

export interface AdmissionRouteOptions {
  context: ServerContext;
  /** The compiled policy set, or a function returning the current one (config reloads); built-ins by default. */
  policies?: PolicySet | (() => PolicySet);
  /** Where non-dry-run decisions go; the store by default. Set to `false` to record nothing. */
  record?: ((outcome: AdmissionOutcome, cluster: string) => Promise<unknown>) | false;
  /** Namespace labels for policies scoped by namespaceSelector (e.g. from the posture scan's namespace list). */
  namespaceLabels?: (namespace: string) => Record<string, string> | undefined;
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

  const handler = async (request: FastifyRequest) => {
    const named = (request.params as { cluster?: string }).cluster;
    const tokenCluster = request.principal?.cluster;
    if (tokenCluster && named && named !== tokenCluster) {
      throw new Forbidden(`a token for cluster ${tokenCluster} cannot submit reviews for cluster ${named}`);
    }
    const cluster = named ?? tokenCluster ?? 'default';
    const outcome = reviewAdmission(request.body, current(), { clock: context.clock, ...(options.namespaceLabels ? { namespaceLabels: options.namespaceLabels } : {}) });
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
