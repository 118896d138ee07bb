import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

export function imageId(registry: string, repository: string, digest: string): string {
  return `${registry}/${repository}@${digest}`;
}

/** A manifest arrived: record the repository, the image and its tag (tags accumulate). Returns whether the image is new. */
export async function recordImagePush(db: Kysely<Database>, push: { registry: string; repository: string; digest: string; tag?: string; imported: boolean; at: Date }): Promise<boolean> {
  await db.insertInto('repositories')
    .values({ id: `${push.registry}/${push.repository}`, registry: push.registry, name: push.repository })
    .onConflict((oc) => oc.columns(['registry', 'name']).doNothing())
    .execute();
  const tags = push.tag ? [push.tag] : [];
  const inserted = await db.insertInto('images')
    .values({
      id: imageId(push.registry, push.repository, push.digest),
      digest: push.digest,
      registry: push.registry,
      repository: push.repository,
      tags: JSON.stringify(tags),
      imported: push.imported,
      last_pushed: push.at,
    })
    .onConflict((oc) => oc.column('id').doUpdateSet({
      // Union of tags, in the order they arrived.
      tags: sql`(select coalesce(jsonb_agg(distinct t), '[]'::jsonb) from jsonb_array_elements_text(images.tags || excluded.tags) as t)`,
      imported: sql`images.imported or excluded.imported`,
      deleted: false,
      last_pushed: sql`greatest(images.last_pushed, excluded.last_pushed)`,
    }))
    .returning(sql<boolean>`(xmax = 0)`.as('inserted'))
    .executeTakeFirstOrThrow();
  return inserted.inserted;
}

/**
 * Many pushes in three statements (a webhook delivers thousands): repositories, then images
 * merged per image (tags united, latest push time) with the same upsert as recordImagePush.
 */
export async function recordImagePushes(db: Kysely<Database>, pushes: Array<{ registry: string; repository: string; digest: string; tag?: string; imported: boolean; at: Date }>): Promise<void> {
  if (pushes.length === 0) return;
  const images = new Map<string, { registry: string; repository: string; digest: string; tags: Set<string>; imported: boolean; at: Date }>();
  for (const push of pushes) {
    const id = imageId(push.registry, push.repository, push.digest);
    const image = images.get(id) ?? { registry: push.registry, repository: push.repository, digest: push.digest, tags: new Set<string>(), imported: false, at: push.at };
    if (push.tag) image.tags.add(push.tag);
    image.imported ||= push.imported;
    if (push.at > image.at) image.at = push.at;
    images.set(id, image);
  }
  const repositories = new Map([...images.values()].map((i) => [`${i.registry}/${i.repository}`, { id: `${i.registry}/${i.repository}`, registry: i.registry, name: i.repository }]));
  await db.insertInto('repositories').values([...repositories.values()]).onConflict((oc) => oc.columns(['registry', 'name']).doNothing()).execute();
  await db.insertInto('images')
    .values([...images].map(([id, i]) => ({ id, digest: i.digest, registry: i.registry, repository: i.repository, tags: JSON.stringify([...i.tags]), imported: i.imported, last_pushed: i.at })))
    .onConflict((oc) => oc.column('id').doUpdateSet({
      tags: sql`(select coalesce(jsonb_agg(distinct t), '[]'::jsonb) from jsonb_array_elements_text(images.tags || excluded.tags) as t)`,
      imported: sql`images.imported or excluded.imported`,
      deleted: false,
      last_pushed: sql`greatest(images.last_pushed, excluded.last_pushed)`,
    }))
    .execute();
}

/** Many pulls in one statement: each image keeps its latest pull time. */
export async function recordImagePulls(db: Kysely<Database>, pulls: Array<{ registry: string; repository: string; digest: string; at: Date }>): Promise<void> {
  const latest = new Map<string, Date>();
  for (const pull of pulls) {
    const id = imageId(pull.registry, pull.repository, pull.digest);
    const seen = latest.get(id);
    if (!seen || pull.at > seen) latest.set(id, pull.at);
  }
  if (latest.size === 0) return;
  const rows = sql.join([...latest].map(([id, at]) => sql`(${id}, ${at.toISOString()}::timestamptz)`));
  await sql`update images set last_pulled = greatest(coalesce(images.last_pulled, v.at), v.at) from (values ${rows}) as v(id, at) where images.id = v.id`.execute(db);
}

/** Many deletes in one statement. */
export async function recordImageDeletes(db: Kysely<Database>, removals: Array<{ registry: string; repository: string; digest: string }>): Promise<void> {
  if (removals.length === 0) return;
  await db.updateTable('images').set({ deleted: true }).where('id', 'in', removals.map((r) => imageId(r.registry, r.repository, r.digest))).execute();
}

export async function recordImagePull(db: Kysely<Database>, pull: { registry: string; repository: string; digest: string; at: Date }): Promise<void> {
  await db.updateTable('images')
    .set({ last_pulled: sql`greatest(coalesce(last_pulled, ${pull.at}), ${pull.at})` })
    .where('id', '=', imageId(pull.registry, pull.repository, pull.digest))
    .execute();
}

export async function recordImageDelete(db: Kysely<Database>, removal: { registry: string; repository: string; digest: string }): Promise<void> {
  await db.updateTable('images').set({ deleted: true }).where('id', '=', imageId(removal.registry, removal.repository, removal.digest)).execute();
}

/** Whether the store knows an image by this digest (deleted or not). */
export async function imageExists(db: Kysely<Database>, digest: string): Promise<boolean> {
  return (await db.selectFrom('images').select('digest').where('digest', '=', digest).limit(1).executeTakeFirst()) !== undefined;
}

export async function markImageScanned(db: Kysely<Database>, digest: string, at: Date): Promise<void> {
  await db.updateTable('images').set({ last_scanned: at }).where('digest', '=', digest).execute();
}

/** Images pulled since `since` and not deleted: what the daily rescan covers. */
export async function imagesPulledSince(db: Kysely<Database>, since: Date): Promise<Array<{ registry: string; repository: string; digest: string }>> {
  return db.selectFrom('images').select(['registry', 'repository', 'digest'])
    .where('last_pulled', '>=', since).where('deleted', '=', false)
    .orderBy('id').execute();
}
