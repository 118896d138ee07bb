import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { flushGraph } from '../graph/index.js';
import { loadPolicyConfig } from '../policy/index.js';
import { authentication } from './auth.js';
import type { ServerContext } from './context.js';
import { installErrorHandling } from './errors.js';
import { installJsonBodies } from './json-body.js';
import { createMetrics, instrumentRequests, type Metrics } from './metrics.js';
import { alertRoutes } from './routes/api/alerts.js';
import { attackPathRoutes } from './routes/api/attack-paths.js';
import { incidentRoutes } from './routes/api/incidents.js';
import { costRoutes } from './routes/api/costs.js';
import { eventRoutes } from './routes/api/events.js';
import { notificationRoutes } from './routes/api/notifications.js';
import { overviewRoutes } from './routes/api/overview.js';
import { scoreRoutes } from './routes/api/score.js';
import { sessionRoutes } from './routes/api/session.js';
import { userRoutes } from './routes/api/users.js';
import { webRoutes } from './routes/web.js';
import { inventoryRoutes } from './routes/api/inventory.js';
import { nodeRoutes } from './routes/api/nodes.js';
import { planRoutes } from './routes/api/plans.js';
import { tokenRoutes } from './routes/api/tokens.js';
import { imageRoutes } from './routes/api/images.js';
import { recommendationRoutes } from './routes/api/recommendations.js';
import { exemptionRoutes } from './routes/api/exemptions.js';
import { vexRoutes } from './routes/api/vex.js';
import { registryRoutes } from './routes/api/registries.js';
import { vulnDbRoutes } from './routes/api/vulndb.js';
import { healthRoutes } from './routes/health.js';
import { admissionRoutes } from './routes/admission/validate.js';
import { agentIngestRoutes } from './routes/ingest/agent.js';
import { auditIngestRoutes } from './routes/ingest/audit.js';
import { registryIngestRoutes } from './routes/ingest/registry.js';
import { harborAdapterRoutes, HARBOR_PREFIX } from './routes/harbor/adapter.js';

import { API_PREFIX } from './api-prefix.js';
import { swaggerUiFiles } from './swagger-ui-files.js';
import { lazySchemaCompilers } from './schema-compilers.js';

export { API_PREFIX };

export interface AppOptions {
  /** A pino logger (the server's); no logging when absent. */
  logger?: FastifyBaseLogger;
  metrics?: Metrics;
  https?: { cert: string | Buffer; key: string | Buffer };
}

/**
 * The security center's HTTP surface. Each surface is a plugin with its own prefix and
 * schemas (DESIGN.md, following Fastify's own habits); every route declares who may call it.
 */
export async function buildApp(context: ServerContext, options: AppOptions = {}): Promise<FastifyInstance> {
  const compilers = lazySchemaCompilers();
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: context.config.bodyLimit,
    // Audit batches arrive with charset parameters and vendor JSON media types.
    ...(options.https ? { https: options.https } : {}),
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // Behind a TLS-terminating proxy: request.ip and request.protocol come from X-Forwarded-* only
    // when the peer is a trusted proxy (never from anyone else: that header is easy to forge).
    trustProxy: context.config.trustProxy ?? false,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } },
    schemaController: { compilersFactory: { buildValidator: compilers.buildValidator, buildSerializer: compilers.buildSerializer } },
  } as FastifyServerOptions);
  app.addHook('onListen', async () => compilers.compileRemaining((error, route) => app.log.error({ err: error, route }, 'a route schema does not compile; its requests will fail')));
  app.addHook('onClose', async () => compilers.stop());
  const metrics = options.metrics ?? createMetrics();

  installErrorHandling(app, { corruption: context.store.corruption });
  installJsonBodies(app);
  instrumentRequests(app, metrics);
  logCorruption(app, context);
  // What the intake queued for the resource graph (written after each alert's commit) is written
  // before whoever closes the app closes the store.
  app.addHook('onClose', async () => flushGraph(context.store.db).catch((error: unknown) => app.log.warn({ err: error }, 'writing the resource graph at shutdown failed')));

  await app.register(swagger, {
    openapi: {
      info: { title: 'Palisade', description: 'Threat protection for Kubernetes clusters and container registries', version: '0.1.0' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  // The docs UI registers its own routes without our auth config: keep them public.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) route.config = { ...(route.config ?? {}), auth: 'public' };
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' }, ...await swaggerUiFiles() });

  await app.register(authentication, { context });
  await app.register(healthRoutes, { context, metrics });
  await app.register(registryIngestRoutes, { context, metrics });
  // Encapsulated on purpose: it replaces the JSON parser for its own route only.
  await app.register(auditIngestRoutes, { context });
  await app.register(agentIngestRoutes, { context });
  // Harbor's pluggable scanner adapter: Harbor registers Palisade as https://PALISADE/harbor.
  await app.register(harborAdapterRoutes, { context, prefix: HARBOR_PREFIX });
  // The API server pins this webhook's certificate (caBundle); it sends a cluster token only if configured to.
  await app.register(admissionRoutes, { context, policies: loadPolicyConfig(context.config.policyFile) });
  await app.register(async (api) => {
    await api.register(tokenRoutes, { context });
    await api.register(alertRoutes, { context });
    await api.register(incidentRoutes, { context });
    await api.register(attackPathRoutes, { context });
    await api.register(planRoutes, { context });
    await api.register(inventoryRoutes, { context });
    await api.register(nodeRoutes, { context });
    await api.register(imageRoutes, { context });
    await api.register(registryRoutes, { context });
    await api.register(recommendationRoutes, { context });
    await api.register(exemptionRoutes, { context });
    await api.register(vexRoutes, { context });
    await api.register(sessionRoutes, { context });
    await api.register(userRoutes, { context });
    await api.register(eventRoutes, { context });
    await api.register(overviewRoutes, { context });
    await api.register(scoreRoutes, { context });
    await api.register(costRoutes, { context });
    await api.register(notificationRoutes, { context });
    await api.register(vulnDbRoutes, { context });
  }, { prefix: API_PREFIX });
  // The dashboard's static files (public; the data it shows comes from the authenticated API).
  await app.register(webRoutes, { context });

  return app;
}

/** Each corrupted relation is logged once, loudly, with what to do about it. */
function logCorruption(app: FastifyInstance, context: ServerContext): void {
  context.store.corruption.onReport((report) => {
    app.log.error({ code: report.code, relation: report.relation, detail: report.detail, restore: report.restore }, `DATA CORRUPTION in ${report.relation ?? 'the database'}: ${report.restore}`);
  });
}

/**
 * The admission webhook alone on its own HTTPS listener (PALISADE_ADMISSION_PORT), so the API and
 * dashboard can stay behind an ingress while the API server reaches the webhook directly over TLS.
 */
export async function buildAdmissionApp(context: ServerContext, tls: { cert: string; key: string }, options: Pick<AppOptions, 'logger'> = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    https: { cert: tls.cert, key: tls.key },
    forceCloseConnections: 'idle',
  } as unknown as FastifyServerOptions);
  installErrorHandling(app, { corruption: context.store.corruption });
  installJsonBodies(app);
  await app.register(authentication, { context });
  app.get('/healthz', { config: { auth: 'public' } }, async () => ({ status: 'ok' }));
  await app.register(admissionRoutes, { context, policies: loadPolicyConfig(context.config.policyFile) });
  return app;
}
