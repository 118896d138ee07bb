import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { listRunningImages } from '../../../store/index.js';
import type { ServerContext } from '../../context.js';
import { decodeCursorAs, ListQuery, page } from '../../pagination.js';

/** Clusters, registries and images in use as the center knows them (nodes: nodes.ts). Credentials never leave the store. */
export async function inventoryRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  const { db } = context.store;

  app.get('/clusters', { config: { auth: 'reader' }, schema: { tags: ['inventory'], querystring: ListQuery } }, async (request) => {
    const { limit = 50, cursor } = request.query as ListQuery;
    const after = decodeCursorAs(cursor, ['string']);
    let query = db.selectFrom('clusters').selectAll();
    if (after) query = query.where('name', '>', after[0]);
    const rows = await query.orderBy('name').limit(limit + 1).execute();
    return page(rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at, lastEventAt: r.last_event_at })), limit, (r) => [r.name]);
  });

  app.get('/registries', { config: { auth: 'reader' }, schema: { tags: ['inventory'], querystring: ListQuery } }, async (request) => {
    const { limit = 50, cursor } = request.query as ListQuery;
    const after = decodeCursorAs(cursor, ['string']);
    let query = db.selectFrom('registries').select(['id', 'name', 'url', 'kind', 'created_at']);
    if (after) query = query.where('name', '>', after[0]);
    const rows = await query.orderBy('name').limit(limit + 1).execute();
    return page(rows.map((r) => ({ id: r.id, name: r.name, url: r.url, kind: r.kind, createdAt: r.created_at })), limit, (r) => [r.name]);
  });

  app.get('/repositories', {
    config: { auth: 'reader' },
    schema: { tags: ['inventory'], summary: 'Repositories per registry with their images and the latest push, pull and scan', querystring: Type.Intersect([ListQuery, Type.Object({ registry: Type.Optional(Type.String({ maxLength: 64 })) })]) },
  }, async (request) => {
    const { limit = 50, cursor, registry } = request.query as ListQuery & { registry?: string };
    const after = decodeCursorAs(cursor, ['string']);
    let query = db.selectFrom('repositories')
      .leftJoin('images', (join) => join.onRef('images.registry', '=', 'repositories.registry').onRef('images.repository', '=', 'repositories.name').on('images.deleted', '=', false))
      .select(['repositories.id', 'repositories.registry', 'repositories.name',
        sql<string>`count(images.digest)`.as('images'),
        sql<Date | null>`max(images.last_pushed)`.as('last_pushed'), sql<Date | null>`max(images.last_pulled)`.as('last_pulled'), sql<Date | null>`max(images.last_scanned)`.as('last_scanned')])
      .groupBy(['repositories.id', 'repositories.registry', 'repositories.name']);
    if (registry) query = query.where('repositories.registry', '=', registry);
    if (after) query = query.where('repositories.id', '>', after[0]);
    const rows = await query.orderBy('repositories.id').limit(limit + 1).execute();
    return page(rows.map((r) => ({
      id: r.id, registry: r.registry, name: r.name, images: Number(r.images), lastPushed: r.last_pushed, lastPulled: r.last_pulled, lastScanned: r.last_scanned,
    })), limit, (r) => [r.id]);
  });

  app.get('/running-images', {
    config: { auth: 'reader' },
    schema: { tags: ['inventory'], summary: 'Images in use per container, as the last posture scan of each cluster listed them, with their scan results', querystring: Type.Intersect([ListQuery, Type.Object({ cluster: Type.Optional(Type.String({ maxLength: 63 })) })]) },
  }, async (request) => {
    const { limit = 50, cursor, cluster } = request.query as ListQuery & { cluster?: string };
    const after = decodeCursorAs(cursor, ['string', 'string', 'string', 'string']);
    const rows = await listRunningImages(db, { ...(cluster ? { cluster } : {}), ...(after ? { after } : {}), limit: limit + 1 });
    return page(rows, limit, (r) => [r.cluster, r.namespace, r.pod, r.container]);
  });
}
