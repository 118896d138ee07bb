import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { findingsOfImage } from '../../../center/index.js';
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
    // Severity counts kept per image as findings are written (migration 0701), not aggregated per request.
    let query = db.selectFrom('images')
      .leftJoin('image_finding_counts as counts', 'counts.digest', 'images.digest')
      .select(['images.id', 'images.digest', 'images.registry', 'images.repository', 'images.tags', 'images.imported', 'images.last_pushed', 'images.last_pulled', 'images.last_scanned'])
      .select([
        sql<number>`coalesce(counts.critical, 0)`.as('critical'),
        sql<number>`coalesce(counts.high, 0)`.as('high'),
        sql<number>`coalesce(counts.medium, 0)`.as('medium'),
        sql<number>`coalesce(counts.low, 0)`.as('low'),
        sql<number>`coalesce(counts.unknown, 0)`.as('unknown'),
      ])
      .where('images.deleted', '=', false);
    if (registry) query = query.where('images.registry', '=', registry);
    if (repository) query = query.where('images.repository', '=', repository);
    if (after) query = query.where('images.id', '>', after[0]);
    const rows = await query.orderBy('images.id').limit(limit + 1).execute();
    return page(rows.map((r) => ({
      id: r.id,
      digest: r.digest,
      registry: r.registry,
      repository: r.repository,
      tags: r.tags,
      imported: r.imported,
      lastPushed: r.last_pushed,
      lastPulled: r.last_pulled,
      lastScanned: r.last_scanned,
      counts: { critical: Number(r.critical), high: Number(r.high), medium: Number(r.medium), low: Number(r.low), unknown: Number(r.unknown) },
    })), limit, (r) => [r.id]);
  });

  app.get('/images/:digest/findings', {
    config: { auth: 'reader' },
    schema: { tags: ['images'], params: Type.Object({ digest: Type.String({ pattern: DIGEST }) }), querystring: ListQuery },
  }, async (request) => {
    const { digest } = request.params as { digest: string };
    const { limit = 100, cursor } = request.query as ListQuery;
    const known = await db.selectFrom('images').select('digest').where('digest', '=', digest).executeTakeFirst();
    if (!known) throw new NotFound(`no image ${digest}`);
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
    let query = db.selectFrom('findings').innerJoin('images', 'images.digest', 'findings.digest')
      .select(['images.id', 'images.digest', 'images.repository', 'findings.package_name', 'findings.package_version', 'findings.fixed_version', 'findings.severity'])
      .where((eb) => eb.or([eb('findings.vulnerability', '=', id), sql<boolean>`findings.aliases ? ${id}`]));
    if (after) query = query.where((eb) => eb(eb.refTuple('images.id', 'findings.package_name', 'findings.package_version'), '>', eb.tuple(after[0], after[1] ?? '', after[2] ?? '')));
    const rows = await query.orderBy('images.id').orderBy('findings.package_name').orderBy('findings.package_version').limit(limit + 1).execute();
    return page(rows.map((r) => ({ image: r.id, digest: r.digest, repository: r.repository, package: r.package_name, installedVersion: r.package_version, fixedVersion: r.fixed_version, severity: r.severity })), limit, (r) => [r.image, r.package, r.installedVersion]);
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
    let query = db.selectFrom('findings').innerJoin('images', 'images.digest', 'findings.digest')
      .select(['images.id', 'images.digest', 'images.repository', 'findings.package_version', 'findings.ecosystem',
        sql<string>`count(*)`.as('vulnerabilities'),
        sql<string>`count(*) filter (where findings.severity = 'critical')`.as('critical'),
        sql<string>`count(*) filter (where findings.severity = 'high')`.as('high'),
        // Every fixed version its findings name: which is the right upgrade depends on the ecosystem's ordering.
        sql<string[] | null>`array_agg(distinct findings.fixed_version) filter (where findings.fixed_version is not null)`.as('fixed_versions')])
      .where('findings.package_name', '=', name)
      .where('images.deleted', '=', false)
      .groupBy(['images.id', 'images.digest', 'images.repository', 'findings.package_version', 'findings.ecosystem']);
    if (ecosystem) query = query.where('findings.ecosystem', '=', ecosystem);
    if (after) query = query.where((eb) => eb(eb.refTuple('images.id', 'findings.package_version'), '>', eb.tuple(after[0], after[1])));
    const rows = await query.orderBy('images.id').orderBy('findings.package_version').limit(limit + 1).execute();
    return page(rows.map((r) => ({
      image: r.id, digest: r.digest, repository: r.repository, installedVersion: r.package_version, ecosystem: r.ecosystem,
      vulnerabilities: Number(r.vulnerabilities), critical: Number(r.critical), high: Number(r.high), fixedVersions: r.fixed_versions ?? [],
    })), limit, (r) => [r.image, r.installedVersion]);
  });
}
