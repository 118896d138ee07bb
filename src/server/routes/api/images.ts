import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { findingsPage, imagesWithPackage, imagesWithVulnerability, isFindingsPosition, listImagesWithCounts, SUPPRESSION_MODES, type FindingsPageFilter } from '../../../center/index.js';
import { FINDING_SEVERITIES, PalisadeError } from '../../../core/index.js';
import { imageRunningIn, nodeId } from '../../../graph/index.js';
import { imageExists } from '../../../store/index.js';
import type { ServerContext } from '../../context.js';
import { NotFound } from '../../errors.js';
import { decodeCursor, decodeCursorAs, ListQuery, page } from '../../pagination.js';

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
    const after = decodeCursorAs(cursor, ['string']);
    const rows = await listImagesWithCounts(db, { registry, repository, afterId: after?.[0], limit });
    return page(rows, limit, (r) => [r.id]);
  });

  app.get('/images/:digest/findings', {
    config: { auth: 'reader' },
    schema: {
      tags: ['images'],
      summary: 'Findings of one image, worst first (suppressed by VEX last), filtered and paged by the server',
      params: Type.Object({ digest: Type.String({ pattern: DIGEST }) }),
      querystring: Type.Intersect([ListQuery, Type.Object({
        severity: Type.Optional(Type.Union(FINDING_SEVERITIES.map((s) => Type.Literal(s)), { description: 'at or above this severity' })),
        fixable: Type.Optional(Type.Boolean({ description: 'true: only findings with a fixed version' })),
        package: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'part of the package name, any case' })),
        q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'part of the vulnerability id or an alias (CVE-…, GHSA-…), any case' })),
        suppressed: Type.Optional(Type.Union(SUPPRESSION_MODES.map((m) => Type.Literal(m)), { description: 'findings a VEX statement suppresses: include (last, the default), exclude, only' })),
      })]),
    },
  }, async (request) => {
    const { digest } = request.params as { digest: string };
    const { limit = 100, cursor, severity, fixable, package: pkg, q, suppressed } = request.query as ListQuery & FindingsPageFilter & { q?: string };
    const after = decodeCursor(cursor);
    // A cursor of another list (or of this list before it sorted worst first) cannot continue this one.
    if (after !== undefined && !isFindingsPosition(after)) {
      throw new PalisadeError('invalid_cursor', 'cursor is not one this list returned', { field: 'cursor', hint: 'pass the `next` value of the previous page unchanged' });
    }
    if (!(await imageExists(db, digest))) throw new NotFound(`no image ${digest}`);
    const filter: FindingsPageFilter = { severity, fixable, package: pkg?.trim() || undefined, text: q?.trim() || undefined, suppressed };
    const { rows, total, suppressed: suppressedCount } = await findingsPage(db, digest, filter, { after, limit: limit + 1 });
    const paged = page(rows, limit, (r) => r.position);
    // Where the image runs (issue 18: findings name the workloads and pods they concern), from the resource graph.
    const runningIn = await imageRunningIn(db, digest);
    return { items: paged.items.map((r) => r.finding), total, suppressed: suppressedCount, identity: nodeId.image(digest), runningIn, ...(paged.next ? { next: paged.next } : {}) };
  });

  app.get('/vulnerabilities/:id/images', {
    config: { auth: 'reader' },
    schema: { tags: ['images'], params: Type.Object({ id: Type.String({ maxLength: 100 }) }), querystring: ListQuery },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const { limit = 50, cursor } = request.query as ListQuery;
    // An image can carry the vulnerability in several packages: the position is (image, package, version).
    const after = decodeCursorAs(cursor, ['string', 'string', 'string']);
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
    const after = decodeCursorAs(cursor, ['string', 'string']);
    return page(await imagesWithPackage(db, name, { ecosystem, after, limit }), limit, (r) => [r.image, r.installedVersion]);
  });
}
