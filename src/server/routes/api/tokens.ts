import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { createToken, listTokens, parseTokenScope, recordAction, revokeToken, type TokenInfo } from '../../../store/index.js';
import { actorOf } from '../../auth.js';
import type { ServerContext } from '../../context.js';

const TokenView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scope: Type.String(),
  prefix: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

function view(t: TokenInfo) {
  return { ...t, createdAt: t.createdAt.toISOString(), lastUsedAt: t.lastUsedAt?.toISOString() ?? null, revokedAt: t.revokedAt?.toISOString() ?? null };
}

/** Admin-only token management; a secret is returned once, at creation. */
export async function tokenRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  const { db } = context.store;

  app.get('/tokens', { schema: { tags: ['tokens'], response: { 200: Type.Object({ items: Type.Array(TokenView) }) } } }, async () => ({
    items: (await listTokens(db)).map(view),
  }));

  app.post('/tokens', {
    schema: {
      tags: ['tokens'],
      body: Type.Object({ scope: Type.String({ maxLength: 80 }), name: Type.Optional(Type.String({ maxLength: 120 })) }, { additionalProperties: false }),
      response: { 201: Type.Intersect([TokenView, Type.Object({ secret: Type.String() })]) },
    },
  }, async (request, reply) => {
    const body = request.body as { scope: string; name?: string };
    const token = await createToken(db, parseTokenScope(body.scope), body.name ?? body.scope, context.clock);
    await recordAction(db, { actor: actorOf(request), action: 'token.create', target: token.id, details: { scope: token.scope }, at: context.clock.now() });
    return reply.status(201).send({ ...view(token), secret: token.secret });
  });

  app.delete('/tokens/:id', { schema: { tags: ['tokens'], params: Type.Object({ id: Type.String({ maxLength: 80 }) }) } }, async (request) => {
    const { id } = request.params as { id: string };
    const token = await revokeToken(db, id, context.clock);
    await recordAction(db, { actor: actorOf(request), action: 'token.revoke', target: token.id, at: context.clock.now() });
    return view(token);
  });
}
