import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { createUser, deleteUser, listUsers, parseRole, updateUser, type User } from '../../../center/index.js';
import { recordAction } from '../../../store/index.js';
import { actorOf } from '../../auth.js';
import type { ServerContext } from '../../context.js';

const view = (u: User) => ({ id: u.id, name: u.name, role: u.role, createdAt: u.createdAt.toISOString(), lastSignInAt: u.lastSignInAt?.toISOString() ?? null });
const RoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('reader')]);

/** Dashboard users, managed by admins. Passwords are write-only. */
export async function userRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  const { db } = context.store;

  app.get('/users', { schema: { tags: ['users'] } }, async () => ({ items: (await listUsers(db)).map(view) }));

  app.post('/users', {
    schema: {
      tags: ['users'],
      body: Type.Object({ name: Type.String({ maxLength: 64 }), role: RoleSchema, password: Type.String({ maxLength: 1024 }) }, { additionalProperties: false }),
    },
  }, async (request, reply) => {
    const body = request.body as { name: string; role: string; password: string };
    const user = await createUser(db, { name: body.name, role: parseRole(body.role), password: body.password }, context.clock);
    await recordAction(db, { actor: actorOf(request), action: 'user.create', target: user.id, details: { name: user.name, role: user.role }, at: context.clock.now() });
    return reply.status(201).send(view(user));
  });

  app.patch('/users/:id', {
    schema: {
      tags: ['users'],
      params: Type.Object({ id: Type.String({ maxLength: 80 }) }),
      body: Type.Object({ role: Type.Optional(RoleSchema), password: Type.Optional(Type.String({ maxLength: 1024 })) }, { additionalProperties: false }),
    },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const body = request.body as { role?: string; password?: string };
    const user = await updateUser(db, id, { role: body.role ? parseRole(body.role) : undefined, password: body.password });
    await recordAction(db, { actor: actorOf(request), action: 'user.update', target: id, details: { role: body.role, password: body.password !== undefined ? 'changed' : undefined }, at: context.clock.now() });
    return view(user);
  });

  app.delete('/users/:id', { schema: { tags: ['users'], params: Type.Object({ id: Type.String({ maxLength: 80 }) }) } }, async (request) => {
    const { id } = request.params as { id: string };
    const user = await deleteUser(db, id, context.clock);
    await recordAction(db, { actor: actorOf(request), action: 'user.delete', target: id, at: context.clock.now() });
    return view(user);
  });
}
