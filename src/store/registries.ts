import type { Kysely, Selectable } from 'kysely';
import { PalisadeError, randomIds } from '../core/index.js';
import type { Database } from './schema.js';

/** A connected registry. `credentials` stays sealed here; only the registry capability opens it. */
export interface RegistryRecord {
  id: string;
  name: string;
  url: string;
  kind: string;
  credentials: string | null;
  poll: boolean;
  createdAt: Date;
}

export async function insertRegistry(db: Kysely<Database>, registry: { name: string; url: string; kind: string; credentials: string | null; poll?: boolean; at: Date }): Promise<RegistryRecord> {
  const id = randomIds.next('reg_');
  const inserted = await db.insertInto('registries')
    .values({ id, name: registry.name, url: registry.url, kind: registry.kind, credentials: registry.credentials, poll: registry.poll ?? false, created_at: registry.at })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) {
    throw new PalisadeError('registry.exists', `a registry named '${registry.name}' is already connected`, { kind: 'conflict', field: 'name', hint: 'choose another name, or remove the existing one first' });
  }
  return { id, name: registry.name, url: registry.url, kind: registry.kind, credentials: registry.credentials, poll: registry.poll ?? false, createdAt: registry.at };
}

export async function findRegistry(db: Kysely<Database>, name: string): Promise<RegistryRecord | undefined> {
  const row = await db.selectFrom('registries').selectAll().where('name', '=', name).executeTakeFirst();
  return row ? toRecord(row) : undefined;
}

export async function getRegistry(db: Kysely<Database>, name: string): Promise<RegistryRecord> {
  const registry = await findRegistry(db, name);
  if (!registry) throw new PalisadeError('registry.not_found', `no registry named '${name}'`, { kind: 'not-found', hint: 'connect it with `palisade registry add`' });
  return registry;
}

/** Every connected registry, by name. */
export async function listRegistries(db: Kysely<Database>): Promise<RegistryRecord[]> {
  return (await db.selectFrom('registries').selectAll().orderBy('name').execute()).map(toRecord);
}

export async function listPolledRegistries(db: Kysely<Database>): Promise<RegistryRecord[]> {
  return (await db.selectFrom('registries').selectAll().where('poll', '=', true).orderBy('name').execute()).map(toRecord);
}

function toRecord(row: Selectable<Database['registries']>): RegistryRecord {
  return { id: row.id, name: row.name, url: row.url, kind: row.kind, credentials: row.credentials, poll: row.poll, createdAt: row.created_at };
}

/**
 * Which connected registry an image reference's host names: `docker.io`, `index.docker.io` and
 * `registry-1.docker.io` are one registry, and a default port is no port. Whatever maps an image
 * written in a pod spec to a registry the user connected (the admission gate, the resource graph)
 * asks here, so they never disagree about which registry an image comes from. In the store, beside
 * the registries, because every capability may import it (the graph cannot import registry/).
 */
export function registryHostKey(host: string, protocol = 'https:'): string {
  let h = host.toLowerCase();
  if ((protocol === 'https:' && h.endsWith(':443')) || (protocol === 'http:' && h.endsWith(':80'))) h = h.slice(0, h.lastIndexOf(':'));
  return h === 'index.docker.io' || h === 'registry-1.docker.io' ? 'docker.io' : h;
}

/** The host key of a stored registry URL; undefined when the URL does not parse (it names no host). */
export function registryUrlHostKey(registryUrl: string): string | undefined {
  if (!URL.canParse(registryUrl)) return undefined;
  const url = new URL(registryUrl);
  return registryHostKey(url.host, url.protocol);
}

/**
 * The connected registries by host key. Two registries on one host (projects of one Harbor): the
 * first by name answers for the host. A stored URL that does not parse names no host.
 */
export async function registriesByHost(db: Kysely<Database>): Promise<Map<string, RegistryRecord>> {
  const byHost = new Map<string, RegistryRecord>();
  for (const registry of await listRegistries(db)) {
    const key = registryUrlHostKey(registry.url);
    if (key !== undefined && !byHost.has(key)) byHost.set(key, registry);
  }
  return byHost;
}
