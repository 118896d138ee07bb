import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Counter } from 'prom-client';
import { getRegistry } from '../../../store/index.js';
import { PalisadeError, SCOPE_NAME_SOURCE } from '../../../core/index.js';
import { ingestRegistryEvents, MAX_WEBHOOK_BYTES, MAX_WEBHOOK_EVENTS, parseRegistryKind, parseRegistryWebhook, verifyNexusSignature, webhookSecretOf } from '../../../registry/index.js';
import type { ServerContext } from '../../context.js';
import { Forbidden } from '../../errors.js';
import type { Metrics } from '../../metrics.js';
import { JSON_MEDIA_TYPE, jsonBodyParser } from '../../json-body.js';
import { acceptVendorJson } from './json.js';

/** The body as received, for webhooks signed over their bytes (Nexus); dropped with the request. */
const rawBodies = new WeakMap<object, string>();

/**
 * `POST /ingest/registry/{registry}`: a registry's webhook, with that registry's token. The
 * answer comes after the events are stored and scans queued, so an undelivered notification
 * is retried by the registry rather than lost. A request carries at most MAX_WEBHOOK_EVENTS
 * events in at most MAX_WEBHOOK_BYTES (413 above either, before anything is stored).
 */
export async function registryIngestRoutes(app: FastifyInstance, { context, metrics }: { context: ServerContext; metrics: Metrics }) {
  acceptVendorJson(app);
  // The same hardened JSON reading, keeping the text a signature is computed over.
  const parse = jsonBodyParser(app);
  app.removeContentTypeParser(JSON_MEDIA_TYPE);
  app.addContentTypeParser(JSON_MEDIA_TYPE, { parseAs: 'string' }, (request, body, done) => {
    rawBodies.set(request, body as string);
    parse(request, body as string, done);
  });
  const rejected = new Counter({ name: 'palisade_registry_webhooks_rejected_total', help: 'Registry webhooks refused as malformed, by registry', labelNames: ['registry'], registers: [metrics.registry] });

  const bodyLimit = Math.min(context.config.bodyLimit, MAX_WEBHOOK_BYTES);
  app.post('/ingest/registry/:registry', {
    config: { auth: 'registry' },
    bodyLimit,
    // An oversized body is refused while it arrives, never parsed; the answer names the cap.
    errorHandler: (error) => {
      if ((error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        throw new PalisadeError('registry.webhook.too_large', `registry webhook: body larger than ${bodyLimit} bytes; at most ${MAX_WEBHOOK_EVENTS} events per request`, {
          kind: 'too-large',
          field: 'body',
          hint: `send at most ${MAX_WEBHOOK_EVENTS} events per request`,
        });
      }
      throw error;
    },
    schema: {
      tags: ['ingest'],
      params: Type.Object({ registry: Type.String({ pattern: `^${SCOPE_NAME_SOURCE}$` }) }),
    },
  }, async (request, reply) => {
    const { registry: name } = request.params as { registry: string };
    const principal = request.principal!;
    if (!principal.isAdmin && principal.registry !== name) throw new Forbidden(`this token belongs to registry ${principal.registry}, not ${name}`);
    const registry = await getRegistry(context.store.db, name);
    const kind = parseRegistryKind(registry.kind);
    let parsed;
    try {
      if (kind === 'nexus') {
        const secret = await webhookSecretOf(context.store.db, name, context.config.secretKey);
        if (secret) verifyNexusSignature(secret, rawBodies.get(request) ?? '', request.headers['x-nexus-webhook-signature']);
      }
      parsed = parseRegistryWebhook(kind, request.body, { url: registry.url, headers: request.headers, receivedAt: context.clock.now() });
    } catch (error) {
      rejected.inc({ registry: name });
      throw error;
    }
    // Event Grid's subscription validation: answered with 200 and the code, nothing recorded.
    if (parsed.answer) return reply.status(200).send(parsed.answer);
    const outcome = await ingestRegistryEvents(context, name, parsed.events);
    return reply.status(202).send({
      accepted: outcome.events,
      ignored: parsed.ignored,
      scansQueued: outcome.scansQueued,
      ...(outcome.planOff ? { plan: 'off', message: `the registries plan is off for ${name}: events are kept for inventory, images are not scanned` } : {}),
    });
  });
}
