import createError from '@fastify/error';
import type { FastifyError, FastifyInstance } from 'fastify';
import { isPalisadeError } from '../core/index.js';
import { corruptionOf, type CorruptionWatch } from '../store/index.js';

/** HTTP-only errors, each with a stable code (capability errors are PalisadeErrors). */
export const Unauthorized = createError('unauthorized', 'missing or invalid bearer token', 401);
export const Forbidden = createError('forbidden', '%s', 403);
export const NotFound = createError('not_found', '%s', 404);

/**
 * Every error leaves as `{ code, message }` with the status that fits it; internals are logged, not
 * returned. Data corruption reported by the database is 503 `store_corrupt`, not a generic 500: the
 * request was fine, the store is not, and an operator must restore it (the log says how).
 */
export function installErrorHandling(app: FastifyInstance, options: { corruption?: CorruptionWatch } = {}): void {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    if (corruptionOf(error)) {
      options.corruption?.note(error);
      request.log.error({ err: error }, 'request failed on corrupted data');
      return reply.status(503).send({ code: 'store_corrupt', message: 'the database reports corrupted data; an operator must restore it from a backup (the server log names the relation and how)' });
    }
    if (isPalisadeError(error)) {
      return reply.status(error.status).send({ code: error.code, message: error.toLine() });
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.validation) {
      return reply.status(400).send({ code: 'invalid_request', message: fastifyError.message });
    }
    const status = fastifyError.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.status(status).send({ code: 'internal', message: 'internal error; see the server log' });
    }
    const code = fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'body_too_large'
      : fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'unsupported_media_type'
      : fastifyError.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ? 'invalid_json'
      : (fastifyError.code ?? 'error').toLowerCase();
    const message = code === 'body_too_large' ? `request body is larger than the limit of ${app.initialConfig.bodyLimit} bytes` : fastifyError.message;
    return reply.status(status).send({ code, message });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });
}
