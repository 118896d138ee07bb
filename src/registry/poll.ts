import { isPlanEnabled } from '../center/index.js';
import type { Clock, Config } from '../core/index.js';
import { RegistryClient } from '../image/index.js';
import type { JobDefinition, JobQueue } from '../jobs/index.js';
import { listPolledRegistries, recordImagePush, type RegistryRecord, type Store } from '../store/index.js';
import { isManifestDigest, isRepositoryName, isTag } from './connectors/names.js';
import { openCredentials } from './credentials.js';
import { queueScans } from './scan-queue.js';
import { queueFirstScans } from './triggers.js';

export const POLL_QUEUE = 'registry-poll';

/**
 * For registries that send no webhooks: list the catalog and each repository's tags, resolve
 * each tag to its digest (HEAD, no download), and treat unseen (repository, digest, tag) as pushes.
 * Names outside the distribution grammar (what a webhook would be refused for) are skipped and counted.
 */
export async function pollRegistry(context: { store: Store; jobs: JobQueue | undefined; clock: Clock; config: Pick<Config, 'secretKey'> }, registry: RegistryRecord): Promise<{ repositories: number; tags: number; newImages: number; scansQueued: number; invalidNames: number }> {
  const url = new URL(registry.url);
  const credentials = registry.credentials ? openCredentials(context.config.secretKey, registry.credentials) : undefined;
  const common = { ...(url.protocol === 'http:' ? { insecure: true } : {}), ...(credentials ? { credentials } : {}) };
  const repositories = await new RegistryClient(url.host, '', { ...common, scope: 'registry:catalog:*' }).listRepositories();
  const planOn = await isPlanEnabled(context.store.db, `registry:${registry.name}`);
  const known = new Set((await context.store.db.selectFrom('images').select(['repository', 'digest', 'tags']).where('registry', '=', registry.name).execute())
    .flatMap((image) => image.tags.map((tag) => `${image.repository}@${image.digest}:${tag}`)));
  let tags = 0;
  let newImages = 0;
  let scansQueued = 0;
  let invalidNames = 0;
  for (const repository of repositories) {
    if (typeof repository !== 'string' || !isRepositoryName(repository)) {
      invalidNames++;
      continue;
    }
    const client = new RegistryClient(url.host, repository, common);
    for (const tag of await client.listTags()) {
      if (typeof tag !== 'string' || !isTag(tag)) {
        invalidNames++;
        continue;
      }
      tags++;
      const digest = await client.resolveTag(tag);
      if (digest && !isManifestDigest(digest)) {
        invalidNames++;
        continue;
      }
      if (!digest || known.has(`${repository}@${digest}:${tag}`)) continue;
      const created = await recordImagePush(context.store.db, { registry: registry.name, repository, digest, tag, imported: false, at: context.clock.now() });
      if (!created) continue; // a new tag of a known image: recorded, already scanned
      newImages++;
      if (planOn && context.jobs) scansQueued += await queueScans({ store: context.store, jobs: context.jobs }, [{ registry: registry.name, repository, digest, tag, reason: 'poll' }]);
    }
  }
  return { repositories: repositories.length, tags, newImages, scansQueued, invalidNames };
}

export function pollJob(context: { store: Store; clock: Clock; config: Pick<Config, 'secretKey'>; jobs: () => JobQueue | undefined }, cron: string | undefined = '*/15 * * * *'): JobDefinition<object> {
  return {
    queue: POLL_QUEUE,
    ...(cron ? { cron } : {}),
    policy: 'short',
    retryLimit: 2,
    handler: async () => {
      const results = [];
      for (const registry of await listPolledRegistries(context.store.db)) {
        results.push({ registry: registry.name, ...(await pollRegistry({ ...context, jobs: context.jobs() }, registry)) });
      }
      return { results, requeued: await requeueMissedScans({ ...context, jobs: context.jobs() }) };
    },
  };
}

/** Pushes of the last hour (older than 10 minutes) still unscanned on registries whose plan is on: their scan job was lost. */
async function requeueMissedScans(context: { store: Store; clock: Clock; jobs: JobQueue | undefined }): Promise<number> {
  const now = context.clock.now().getTime();
  const window = { after: new Date(now - 3_600_000), before: new Date(now - 600_000) };
  let queued = 0;
  for (const { name } of await context.store.db.selectFrom('registries').select('name').orderBy('name').execute()) {
    if (await isPlanEnabled(context.store.db, `registry:${name}`)) queued += await queueFirstScans(context, name, window);
  }
  return queued;
}
