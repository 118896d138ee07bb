import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { loadConfig, systemClock } from '../../src/core/index.js';
import { startJobQueue, type JobQueue } from '../../src/jobs/index.js';
import { connectRegistry, SCAN_QUEUE } from '../../src/registry/index.js';
import { buildApp } from '../../src/server/index.js';
import type { Store } from '../../src/store/index.js';
import { createTestStore } from '../support/store.js';

/**
 * Events shaped like a real docker-registry notification, recorded in
 * src/registry/connectors/samples/distribution-manifest-push.json (docker-registry 2.8, skopeo 1.9.3 push).
 */
const SAMPLE = JSON.parse(readFileSync(path.join(import.meta.dirname, '../../src/registry/connectors/samples/distribution-manifest-push.json'), 'utf8')) as { events: Array<Record<string, unknown> & { target: Record<string, unknown> }> };
export const RECORDED = SAMPLE.events[0]!;

export const digestOf = (registry: string, n: number) => `sha256:${Buffer.from(`${registry}-${n}`).toString('hex').padEnd(64, '0').slice(0, 64)}`;

/** `count` manifest pushes of `digests` distinct digests over 40 repositories (a digest under several tags, as CI pushes `sha`, `branch` and `latest`). */
export function pushes(registry: string, count: number, digests: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => {
    const n = i % digests;
    return {
      ...RECORDED,
      id: `${registry}-${i}`,
      target: { ...RECORDED.target, repository: `team${n % 40}/service${n % 40}`, digest: digestOf(registry, n), tag: `t${Math.floor(i / digests)}` },
    };
  });
}

export interface WebhookServer {
  base: string;
  store: Store;
  jobs: JobQueue;
  /** POSTs a Distribution envelope (events, or a body already serialized) with the registry's own token. */
  deliver(registry: string, events: unknown[] | string): Promise<Response>;
  queuedScans(registry: string): Promise<number>;
  storedImages(registry: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * A real server on loopback over the embedded store (the worst case: PGlite runs its queries on
 * the server's own thread), with the real scan queue whose jobs are queued, never run, and the
 * named registries connected.
 */
export async function startWebhookServer(registries: string[]): Promise<WebhookServer> {
  const temp = await createTestStore({ name: 'flood' });
  const { store, dir } = temp;
  const jobs = await startJobQueue(store, { definitions: [{ queue: SCAN_QUEUE, policy: 'short', handler: async () => undefined }], runHandlers: false });
  const config = loadConfig({ env: {}, cwd: dir, flags: temp.location });
  const app: FastifyInstance = await buildApp({ config, store, jobs, clock: systemClock });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const tokens: Record<string, string> = {};
  for (const name of registries) {
    tokens[name] = (await connectRegistry(store, { name, url: 'http://127.0.0.1:9', kind: 'distribution', actor: 'test', clock: systemClock })).token;
  }
  const count = async (query: { execute(db: Store['db']): Promise<{ rows: Array<{ n: number }> }> }) => (await query.execute(store.db)).rows[0]!.n;
  return {
    base,
    store,
    jobs,
    deliver: (registry, events) => fetch(`${base}/ingest/registry/${registry}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens[registry]}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' },
      body: typeof events === 'string' ? events : JSON.stringify({ events }),
    }),
    queuedScans: (registry) => count(sql<{ n: number }>`select count(*)::int as n from pgboss.job where name = ${SCAN_QUEUE} and data->>'registry' = ${registry}`),
    storedImages: (registry) => count(sql<{ n: number }>`select count(*)::int as n from images where registry = ${registry}`),
    async close() {
      await app.close();
      await jobs.stop(1000);
      await temp.close();
    },
  };
}
