/** The images clusters run, per container, replaced by each posture scan of the cluster. */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { inTransaction } from './transaction.js';

export interface RunningImageTable {
  cluster: string;
  namespace: string;
  pod: string;
  container: string;
  image: string;
  /** Manifest digest from the container status (`…@sha256:…`); null until the image is pulled, or when the runtime reports only its config id. */
  digest: string | null;
  seen_at: Date | string;
}

declare module './schema.js' {
  interface Database {
    running_images: RunningImageTable;
  }
}

export interface RunningImage {
  namespace: string;
  pod: string;
  container: string;
  image: string;
  digest?: string;
}

export async function replaceRunningImages(db: Kysely<Database>, cluster: string, images: readonly RunningImage[], at: Date): Promise<void> {
  await inTransaction(db, async (tx) => {
    await tx.deleteFrom('running_images').where('cluster', '=', cluster).execute();
    for (let i = 0; i < images.length; i += 500) {
      await tx.insertInto('running_images').values(images.slice(i, i + 500).map((r) => ({
        cluster, namespace: r.namespace, pod: r.pod, container: r.container, image: r.image, digest: r.digest ?? null, seen_at: at,
      }))).onConflict((oc) => oc.columns(['cluster', 'namespace', 'pod', 'container']).doNothing()).execute();
    }
  });
}

export interface RunningImageView extends RunningImage {
  cluster: string;
  seenAt: Date;
  /** Scanned by Palisade (from a connected registry): its findings by severity. */
  scanned: boolean;
  critical: number;
  high: number;
  medium: number;
}

/** Images in use, with what their scans found, in (cluster, namespace, pod, container) order. */
export async function listRunningImages(db: Kysely<Database>, options: { cluster?: string; after?: [string, string, string, string]; limit?: number }): Promise<RunningImageView[]> {
  let query = db.selectFrom('running_images as r')
    .leftJoin('image_finding_counts as c', 'c.digest', 'r.digest')
    .select(['r.cluster', 'r.namespace', 'r.pod', 'r.container', 'r.image', 'r.digest', 'r.seen_at', 'c.critical', 'c.high', 'c.medium'])
    .select((eb) => eb.exists(eb.selectFrom('images').select('images.id').whereRef('images.digest', '=', 'r.digest').where('images.last_scanned', 'is not', null)).as('scanned'));
  if (options.cluster) query = query.where('r.cluster', '=', options.cluster);
  if (options.after) query = query.where((eb) => eb(eb.refTuple('r.cluster', 'r.namespace', 'r.pod', 'r.container'), '>', eb.tuple(...options.after!)));
  query = query.orderBy('r.cluster').orderBy('r.namespace').orderBy('r.pod').orderBy('r.container');
  const rows = await (options.limit === undefined ? query : query.limit(options.limit)).execute();
  return rows.map((r) => ({
    cluster: r.cluster, namespace: r.namespace, pod: r.pod, container: r.container, image: r.image, ...(r.digest ? { digest: r.digest } : {}),
    seenAt: new Date(r.seen_at), scanned: Boolean(r.scanned), critical: Number(r.critical ?? 0), high: Number(r.high ?? 0), medium: Number(r.medium ?? 0),
  }));
}
