import type { FastifyInstance } from 'fastify';
import { JSON_MEDIA_TYPE, jsonBodyParser } from '../../json-body.js';

/**
 * Webhook senders use vendor JSON media types (Distribution's
 * `application/vnd.docker.distribution.events.v1+json`, Kubernetes' `application/json;
 * charset=utf-8`, ...): the app's JSON parser (json-body.ts) already reads every `+json` type;
 * this keeps a plugin registered on a bare Fastify instance (tests) reading them the same way.
 */
export function acceptVendorJson(app: FastifyInstance): void {
  if (app.hasContentTypeParser(JSON_MEDIA_TYPE) || app.hasContentTypeParser('application/vnd.palisade.any+json')) return;
  app.addContentTypeParser(JSON_MEDIA_TYPE, { parseAs: 'string' }, jsonBodyParser(app));
}
