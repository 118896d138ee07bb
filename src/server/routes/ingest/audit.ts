import type { FastifyInstance } from 'fastify';
import { PalisadeError } from '../../../core/index.js';
import { createAuditIngest, loadAuditRules, WEBHOOK_MAX_BYTES, type AuditIngest, type RuleSet } from '../../../audit/index.js';
import { dedupeKey, recordThreats } from '../../../center/index.js';
import type { ServerContext } from '../../context.js';
import { Forbidden } from '../../errors.js';

export interface AuditIngestRouteOptions {
  context: ServerContext;
  /** Compiled rules; built-ins plus PALISADE_RULES_DIR by default. */
  rules?: RuleSet;
  /** A ready ingest pipeline (tests); created over the context's store by default. */
  ingest?: AuditIngest;
}

/** Bad items listed in the answer; the apiserver ignores the body, people reading it do not need thousands. */
const MAX_LISTED_ERRORS = 100;

/**
 * `POST /ingest/audit`: the kube-apiserver audit webhook backend (kubeconfig from
 * `palisade cluster connect`). Authenticated by the cluster's bearer token, whose scope names the
 * cluster (an admin token may name one with `?cluster=`). Accepts an `audit.k8s.io/v1` or
 * `v1beta1` EventList, a JSON array or a single Event, at most 400 events. It answers only after
 * the alerts the new events raised, the events and the detection state are stored, so a 200 means
 * nothing is lost; a batch sent again after a 200 is recognised by auditID and stage and not
 * counted twice (after a failure it is detected again: at least once, never lost).
 * Bad items are reported in the answer and the rest of the batch is still processed.
 */
export async function auditIngestRoutes(app: FastifyInstance, options: AuditIngestRouteOptions) {
  const { context } = options;
  const ingest = options.ingest ?? await createAuditIngest(context.store.db, options.rules ?? loadAuditRules());

  // This plugin's own JSON parser (encapsulated: other routes keep the app's): PostgreSQL text and
  // jsonb cannot hold NUL, so \u0000 escapes become U+FFFD before parsing, and a hostile event
  // cannot make its batch fail (and be re-sent) forever.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(/^application\/([\w.-]+\+)?json\b/i, { parseAs: 'string', bodyLimit: WEBHOOK_MAX_BYTES }, (_request, body: string, done) => {
    const text = body;
    try {
      done(null, JSON.parse(text.includes('\\u0000') ? text.replace(/\\u0000/g, '\\ufffd') : text));
    } catch (error) {
      done(new PalisadeError('audit.invalid-json', `audit batch is not JSON: ${(error as Error).message}`), undefined);
    }
  });

  app.post('/ingest/audit', {
    config: { auth: 'cluster' },
    bodyLimit: WEBHOOK_MAX_BYTES,
    schema: {
      tags: ['ingest'],
      summary: 'Receive a batch of Kubernetes audit events from the API server webhook backend',
      querystring: { type: 'object', properties: { cluster: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' } } },
      body: { anyOf: [{ type: 'object' }, { type: 'array' }] },
    },
  }, async (request) => {
    const principal = request.principal;
    const named = (request.query as { cluster?: string }).cluster;
    const cluster = principal?.cluster ?? (principal?.isAdmin ? named : undefined);
    if (!cluster) throw new Forbidden('audit events need a cluster token (scope cluster:NAME), or an admin token with ?cluster=NAME');
    if (principal?.cluster && named && named !== principal.cluster) {
      throw new Forbidden(`this token belongs to cluster ${principal.cluster}, not ${named}`);
    }
    const result = await ingest.ingest(cluster, request.body);
    // Concurrent batches upsert alert rows; taking them in one global order avoids deadlocks.
    const threats = result.threats.map((t) => ({ key: dedupeKey(t), t })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((x) => x.t);
    const recorded = await recordThreats(context.store.db, threats);
    await result.commit();
    if (result.errors.length) request.log.warn({ cluster, errors: result.errors.length, first: result.errors[0] }, 'audit batch had bad events');
    return {
      cluster,
      events: result.events,
      duplicates: result.duplicates,
      alerts: { created: recorded.created.length, updated: recorded.updated.length },
      errors: result.errors.slice(0, MAX_LISTED_ERRORS),
      errorCount: result.errors.length,
    };
  });
}
