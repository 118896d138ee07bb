import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { findingsOfImage, imagesWithPackage, imagesWithVulnerability, listImagesWithCounts } from '../../../center/index.js';
import { imageExists } from '../../../store/index.js';
import type { ServerContext } from '../../context.js';
import { NotFound } from '../../errors.js';
import { decodeCursor, ListQuery, page } from '../../pagination.js';

const DIGEST = '^[a-z0-9]+:[a-f0-9]{32,128}$';

/** Registries' images with scan times and severity counts, their findings, and findings by vulnerability. */
export async function imageRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  const { db } = context.store;

  app.get('/images', {
    config: { auth: 'reader' },
    schema: {
      tags: ['images'],
      querystring: Type.Intersect([ListQuery, Type.Object({
        registry: Type.Optional(Type.String({ maxLength: 64 })),
        repository: Type.Optional(Type.String({ maxLength: 256 })),
      })]),
    },
  }, async (request) => {
    const { limit = 50, cursor, registry, repository } = request.query as ListQuery & { registry?: string; repository?: string };
    const after = decodeCursor(cursor) as [string] | undefined;
    const rows = await listImagesWithCounts(db, { registry, repository, afterId: after?.[0], limit });
    return page(rows, limit, (r) => [r.id]);
  });

  app.get('/images/:digest/findings', {
    config: { auth: 'reader' },
    schema: { tags: ['images'], params: Type.Object({ digest: Type.String({ pattern: DIGEST }) }), querystring: ListQuery },
  }, async (request) => {
    const { digest } = request.params as { digest: string };
    const { limit = 100, cursor } = request.query as ListQuery;
    if (!(await imageExists(db, digest))) throw new NotFound(`no image ${digest}`);
    const rows = await findingsOfImage(db, digest, limit + 1, decodeCursor(cursor) as [string, string] | undefined);
    const paged = page(rows, limit, (r) => r.key);
    return { items: paged.items.map((r) => r.finding), ...(paged.next ? { next: paged.next } : {}) };
  });

  app.get('/vulnerabilities/:id/images', {
    config: { auth: 'reader' },
    schema: { tags: ['images'], params: Type.Object({ id: Type.String({ maxLength: 100 }) }), querystring: ListQuery },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const { limit = 50, cursor } = request.query as ListQuery;
    // An image can carry the vulnerability in several packages: the position is (image, package, version).
    const after = decodeCursor(cursor) as [string, string, string] | undefined;
    return page(await imagesWithVulnerability(db, id, { after, limit }), limit, (r) => [r.image, r.package, r.installedVersion]);
  });

  app.get('/packages/:name/images', {
    config: { auth: 'reader' },
    schema: {
      tags: ['images'],
      summary: 'Images carrying a vulnerable version of a package, per installed version',
      params: Type.Object({ name: Type.String({ minLength: 1, maxLength: 300 }) }),
      querystring: Type.Intersect([ListQuery, Type.Object({ ecosystem: Type.Optional(Type.String({ maxLength: 50 })) })]),
    },
  }, async (request) => {
    const { name } = request.params as { name: string };
    const { limit = 50, cursor, ecosystem } = request.query as ListQuery & { ecosystem?: string };
    const after = decodeCursor(cursor) as [string, string] | undefined;
    return page(await imagesWithPackage(db, name, { ecosystem, after, limit }), limit, (r) => [r.image, r.installedVersion]);
  });
}
