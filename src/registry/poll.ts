import type { Kysely } from 'kysely';
import { isPlanEnabled } from '../center/index.js';
import { PalisadeError, type Clock, type Config } from '../core/index.js';
import { RegistryClient } from '../image/index.js';
import type { JobDefinition, JobQueue } from '../jobs/index.js';
import { listPolledRegistries, recordImagePush, type Database, type RegistryRecord, type Store } from '../store/index.js';
import { clientOptions, registryAccess } from './connectors/access.js';
import { ecrRepositories } from './connectors/ecr-repositories.js';
import { isManifestDigest, isRepositoryName, isTag } from './connectors/names.js';
import { openCredentials } from './credentials.js';
import { queueScans } from './scan-queue.js';
import { queueFirstScans } from './triggers.js';

export const POLL_QUEUE = 'registry-poll';

interface RegistryPollRepositoryTable {
  registry: string;
  repository: string;
}

declare module '../store/schema.js' {
  interface Database {
    registry_poll_repositories: RegistryPollRepositoryTable;
  }
}

/** The most repositories a user may list for one registry. */
const MAX_POLL_REPOSITORIES = 1000;

/** Stores the repositories to poll, as the user listed them when connecting (each checked against the distribution grammar). */
export async function storePollRepositories(db: Kysely<Database>, registry: string, repositories: string[]): Promise<void> {
  if (repositories.length > MAX_POLL_REPOSITORIES) throw new PalisadeError('registry.repositories', `at most ${MAX_POLL_REPOSITORIES} repositories per registry`, { field: 'repositories', kind: 'too-large' });
  repositories.forEach((repository, i) => {
    if (!isRepositoryName(repository)) throw new PalisadeError('registry.repositories', `repositories[${i}] is not a repository name: ${JSON.stringify(repository.slice(0, 80))}`, { field: `repositories[${i}]`, hint: 'lowercase path components joined by /, such as team/app' });
  });
  const unique = [...new Set(repositories)];
  if (unique.length) await db.insertInto('registry_poll_repositories').values(unique.map((repository) => ({ registry, repository }))).onConflict((oc) => oc.doNothing()).execute();
}

/** The repositories listed for a registry, in name order; empty when none were. */
async function pollRepositoriesOf(db: Kysely<Database>, registry: string): Promise<string[]> {
  return (await db.selectFrom('registry_poll_repositories').select('repository').where('registry', '=', registry).orderBy('repository').execute()).map((r) => r.repository);
}

export interface PollContext {
  store: Store;
  jobs: JobQueue | undefined;
  clock: Clock;
  config: Pick<Config, 'secretKey'>;
  /** Tests: the loopback stand-in for the AWS ECR API. */
  ecrEndpoint?: string;
  /** Tests: replaces fetch for token endpoints and the registry. */
  fetch?: typeof fetch;
}

/**
 * The repositories a poll reads: those the user listed; else, for ECR, DescribeRepositories through
 * the AWS SDK (ECR has no usable catalog); else the registry's `/v2/_catalog`.
 */
async function repositoriesToPoll(context: PollContext, registry: RegistryRecord, catalog: () => Promise<string[]>): Promise<{ names: unknown[]; source: 'configured' | 'ecr' | 'catalog' }> {
  const configured = await pollRepositoriesOf(context.store.db, registry.name);
  if (configured.length) return { names: configured, source: 'configured' };
  if (registry.kind === 'ecr') {
    const login = registry.credentials ? openCredentials(context.config.secretKey, registry.credentials) : undefined;
    const names = await ecrRepositories(registry.url, login, context.ecrEndpoint ? { endpoint: context.ecrEndpoint } : {});
    if (names) return { names, source: 'ecr' };
  }
  return { names: await catalog(), source: 'catalog' };
}

/**
 * For registries that send no webhooks: list the repositories (configured, vendor API or catalog)
 * and each repository's tags, resolve each tag to its digest (HEAD, no download), and treat unseen
 * (repository, digest, tag) as pushes. Names outside the distribution grammar (what a webhook would
 * be refused for) are skipped and counted.
 */
export async function pollRegistry(context: PollContext, registry: RegistryRecord): Promise<{ repositories: number; tags: number; newImages: number; scansQueued: number; invalidNames: number; source: 'configured' | 'ecr' | 'catalog' }> {
  const access = await registryAccess(registry, { secretKey: context.config.secretKey, ...(context.fetch ? { fetch: context.fetch } : {}), clock: context.clock });
  const common = clientOptions(access);
  const { names: repositories, source } = await repositoriesToPoll(context, registry, () => new RegistryClient(access.host, '', { ...common, scope: 'registry:catalog:*' }).listRepositories());
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
    const client = new RegistryClient(access.host, repository, common);
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
  return { repositories: repositories.length, tags, newImages, scansQueued, invalidNames, source };
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
