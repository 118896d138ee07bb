import type { FastifyInstance } from 'fastify';
import { isPalisadeError, PalisadeError } from '../../../core/index.js';
import { createAuditIngest, loadAuditRules, WEBHOOK_MAX_BYTES, type AuditIngest } from '../../../audit/index.js';
import { isPlanEnabled, threatIntake } from '../../../center/index.js';
import { touchCluster } from '../../../store/index.js';
import type { ServerContext } from '../../context.js';
import { batchCluster, CLUSTER_QUERY } from './cluster.js';
import { JSON_MEDIA_TYPE, JsonTooDeep, jsonBodyParser } from '../../json-body.js';

export interface AuditIngestRouteOptions {
  context: ServerContext;
}

/** How long after listening the built-in rules compile when no batch asked for them first. */
const COMPILE_RULES_AFTER_MS = 2000;

/**
 * The ingest pipeline over the built-in rules and the configured rules directory (`rulesDir`,
 * PALISADE_RULES_DIR), made on first use: compiling the built-in rules (their CEL, conditions and
 * samples) and reading the detection state took ~60-90 ms of every warm start, before the server
 * could answer anything. The first batch, or a timer shortly after listening, makes it; a batch
 * arriving meanwhile waits for the same one.
 */
function auditPipeline(app: FastifyInstance, context: ServerContext) {
  let made: Promise<AuditIngest> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const get = (): Promise<AuditIngest> => {
    clearTimeout(timer);
    made ??= createAuditIngest(context.store.db, loadAuditRules({ dir: context.config.rulesDir ?? null }), {},
      (error) => app.log.error({ err: error }, 'writing the audit detection state failed; retrying with the next batch'));
    return made;
  };
  return {
    get,
    soon() {
      if (made) return;
      timer = setTimeout(() => void get().catch((error: unknown) => app.log.error({ err: error }, 'the audit rules do not load; audit batches will fail')), COMPILE_RULES_AFTER_MS);
      timer.unref();
    },
    /** Writes the first-seen state of a pipeline that was made; one never made has none. */
    async flushState() {
      clearTimeout(timer);
      if (made) await (await made).flushState();
    },
  };
}

/** Bad items listed in the answer; the apiserver ignores the body, people reading it do not need thousands. */
const MAX_LISTED_ERRORS = 100;

/**
 * `POST /ingest/audit`: the kube-apiserver audit webhook backend (kubeconfig from
 * `palisade cluster connect`). Authenticated by the cluster's bearer token, whose scope names the
 * cluster (an admin token may name one with `?cluster=`). Accepts an `audit.k8s.io/v1` or
 * `v1beta1` EventList, a JSON array or a single Event, at most 400 events. It answers only after
 * the alerts the new events raised and the events are stored (the first-seen state is written in
 * the background, coalesced across batches, and at close), so a 200 means
 * nothing is lost; a batch sent again after a 200 is recognised by auditID and stage and not
 * counted twice (its alerts and events commit in one transaction: after a failure neither is
 * stored, and the resent batch is detected again, never lost).
 * Bad items are reported in the answer and the rest of the batch is still processed. With the
 * cluster's Kubernetes plan off the answer is 403 `plan_disabled` and nothing is stored.
 */
export async function auditIngestRoutes(app: FastifyInstance, options: AuditIngestRouteOptions) {
  const { context } = options;
  const ingest = auditPipeline(app, context);
  // A user's rules directory is loaded now, so a mistake in it stops the server with the file,
  // rule and field named; the built-in rules, tested with the build, compile after the server listens.
  if (context.config.rulesDir) await ingest.get();
  else app.addHook('onListen', async () => ingest.soon());
  app.addHook('onClose', async () => ingest.flushState());
  // The center's intake groups concurrent batches into one transaction: their alerts (folded by
  // key, in key order) and their events commit together, once, before any of them is answered.
  const intake = threatIntake(context.store, { clock: context.clock });

  // This plugin's own JSON parser (encapsulated: other routes keep the app's): the app's hardened
  // one (depth, NUL and lone surrogates become U+FFFD, bare scalars refused) with the audit body
  // limit, so a hostile event cannot make its batch fail (and be re-sent) forever.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_MEDIA_TYPE, { parseAs: 'string', bodyLimit: WEBHOOK_MAX_BYTES }, jsonBodyParser(app, {
    wrap: (error) => (isPalisadeError(error) || error instanceof JsonTooDeep ? error
      : new PalisadeError('audit.invalid-json', `audit batch is not JSON: ${error.message}`)),
  }));

  app.post('/ingest/audit', {
    config: { auth: 'cluster' },
    bodyLimit: WEBHOOK_MAX_BYTES,
    schema: {
      tags: ['ingest'],
      summary: 'Receive a batch of Kubernetes audit events from the API server webhook backend',
      querystring: CLUSTER_QUERY,
      body: { anyOf: [{ type: 'object' }, { type: 'array' }] },
    },
  }, async (request, reply) => {
    const cluster = batchCluster(request, 'audit events');
    // The plan is read while the batch is decoded and its stored events looked up (two round
    // trips at once instead of one after the other); detection waits for the answer.
    const [enabled, prepared] = await Promise.allSettled([
      isPlanEnabled(context.store.db, `cluster:${cluster}`),
      ingest.get().then((pipeline) => pipeline.prepare(cluster, request.body)),
    ]);
    if (enabled.status === 'rejected') throw enabled.reason;
    if (!enabled.value) {
      // The cluster stays in the inventory with its last event; nothing is stored or detected.
      await touchCluster(context.store.db, cluster, context.clock.now());
      return reply.status(403).send({ code: 'plan_disabled', message: `the Kubernetes plan is off for cluster ${cluster}: audit events are not stored or analysed` });
    }
    if (prepared.status === 'rejected') throw prepared.reason;
    const result = prepared.value.detect();
    await intake.submit({ threats: result.threats, commit: (tx) => result.storeEvents(tx) });
    await result.committed();
    if (result.errors.length) request.log.warn({ cluster, errors: result.errors.length, first: result.errors[0] }, 'audit batch had bad events');
    return {
      cluster,
      events: result.events,
      duplicates: result.duplicates,
      /** Alerts this batch raised or repeated (rule and resource pairs); activity records apart. */
      alerts: result.threats.filter((t) => t.severity !== 'informational').length,
      /** Informational activity records (a Deployment created, a Role changed): kept, never notified. */
      activity: result.threats.filter((t) => t.severity === 'informational').length,
      errors: result.errors.slice(0, MAX_LISTED_ERRORS),
      errorCount: result.errors.length,
    };
  });
}
