import type { Kysely } from 'kysely';
import { listRegistries, type Database, type RegistryRecord } from '../store/index.js';

/**
 * Which connected registry an image reference's host names: `docker.io`, `index.docker.io` and
 * `registry-1.docker.io` are one registry, and a default port is no port. Anything that maps an
 * image written in a pod spec to a registry the user connected (the admission gate, the resource
 * graph) should ask here, so the two never disagree about which registry an image comes from.
 */
export function registryHostKey(host: string, protocol = 'https:'): string {
  let h = host.toLowerCase();
  if ((protocol === 'https:' && h.endsWith(':443')) || (protocol === 'http:' && h.endsWith(':80'))) h = h.slice(0, h.lastIndexOf(':'));
  return h === 'index.docker.io' || h === 'registry-1.docker.io' ? 'docker.io' : h;
}

/**
 * The connected registries by host key. Two registries on one host (projects of one Harbor): the
 * first by name answers for the host. A stored URL that does not parse names no host.
 */
export async function registriesByHost(db: Kysely<Database>): Promise<Map<string, RegistryRecord>> {
  const byHost = new Map<string, RegistryRecord>();
  for (const registry of await listRegistries(db)) {
    if (!URL.canParse(registry.url)) continue;
    const url = new URL(registry.url);
    const key = registryHostKey(url.host, url.protocol);
    if (!byHost.has(key)) byHost.set(key, registry);
  }
  return byHost;
}
