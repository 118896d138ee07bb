import type { FastifyInstance } from 'fastify';

/**
 * Webhook senders use vendor JSON media types (Distribution's
 * `application/vnd.docker.distribution.events.v1+json`, Kubernetes' `application/json;
 * charset=utf-8`, ...): parse any `+json` type as JSON within the body limit.
 */
export function acceptVendorJson(app: FastifyInstance): void {
  if (app.hasContentTypeParser('application/vnd.palisade.any+json')) return;
  app.addContentTypeParser(/^application\/[\w.+-]+\+json(\s*;.*)?$/i, { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
}
