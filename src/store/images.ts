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

export async function recordImagePull(db: Kysely<Database>, pull: { registry: string; repository: string; digest: string; at: Date }): Promise<void> {
  await db.updateTable('images')
    .set({ last_pulled: sql`greatest(coalesce(last_pulled, ${pull.at}), ${pull.at})` })
    .where('id', '=', imageId(pull.registry, pull.repository, pull.digest))
    .execute();
}

export async function recordImageDelete(db: Kysely<Database>, removal: { registry: string; repository: string; digest: string }): Promise<void> {
  await db.updateTable('images').set({ deleted: true }).where('id', '=', imageId(removal.registry, removal.repository, removal.digest)).execute();
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
