import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { createExemption, listExemptions, MAX_EXEMPTION_REASON, removeExemption, type Exemption } from '../../../center/index.js';
import { refreshSecureScore } from '../../../center/index.js';
import { actorOf } from '../../auth.js';
import type { ServerContext } from '../../context.js';
import { NotFound } from '../../errors.js';

const SCOPE = '^(cluster|registry):[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';
const view = (e: Exemption) => ({ ...e, expiresAt: e.expiresAt.toISOString(), createdAt: e.createdAt.toISOString() });

/**
 * Exemptions from recommendations: listed by readers, created and removed by admins (with the
 * session's CSRF token from the dashboard). Each change recomputes the secure score at once.
 */
export async function exemptionRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  const { db } = context.store;

  app.get('/recommendations/exemptions', {
    config: { auth: 'reader' },
    schema: {
      tags: ['recommendations'],
      querystring: Type.Object({
        scope: Type.Optional(Type.String({ pattern: SCOPE })),
        policy: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('all')], { default: 'active' })),
      }),
    },
  }, async (request) => {
    const q = request.query as { scope?: string; policy?: string; status?: 'active' | 'expired' | 'all' };
    return { items: (await listExemptions(db, q, context.clock.now())).map(view) };
  });

  app.post('/recommendations/exemptions', {
    schema: {
      tags: ['recommendations'],
      body: Type.Object({
        policy: Type.String({ minLength: 1, maxLength: 200 }),
        scope: Type.String({ pattern: SCOPE }),
        resource: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
        reason: Type.String({ minLength: 1, maxLength: MAX_EXEMPTION_REASON }),
        expiresAt: Type.String({ format: 'date-time' }),
      }, { additionalProperties: false }),
    },
  }, async (request, reply) => {
    const body = request.body as { policy: string; scope: string; resource?: string; reason: string; expiresAt: string };
    const now = context.clock.now();
    const exemption = await createExemption(db, { ...body, expiresAt: new Date(body.expiresAt) }, actorOf(request), now);
    await refreshSecureScore(db, now);
    return reply.status(201).send(view(exemption));
  });

  app.delete('/recommendations/exemptions/:id', {
    schema: { tags: ['recommendations'], params: Type.Object({ id: Type.String({ maxLength: 80 }) }) },
  }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const now = context.clock.now();
    if (!(await removeExemption(db, id, actorOf(request), now))) throw new NotFound(`no exemption ${id}`);
    await refreshSecureScore(db, now);
    return reply.status(204).send();
  });
}
