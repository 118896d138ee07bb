import { PalisadeError, type Clock, type Config } from '../core/index.js';
import { RegistryClient } from '../image/index.js';
import type { RegistryRecord } from '../store/index.js';
import { clientOptions, registryAccess } from './connectors/access.js';

/**
 * The manifest digest a tag of a connected registry names now, or undefined if the registry has no
 * such tag. The registry is reached as scans and polls reach it (registryAccess: its API path
 * prefix, exchanged cloud logins, the authority the user configured), so a tag is resolved on the
 * registry the user connected and nowhere else.
 */
export async function resolveRegistryTag(
  context: { config: Pick<Config, 'secretKey'>; clock: Clock; fetch?: typeof fetch },
  registry: RegistryRecord,
  repository: string,
  tag: string,
  options: { timeoutMs: number; userAgent: string },
): Promise<string | undefined> {
  const access = await registryAccess(registry, { secretKey: context.config.secretKey, clock: context.clock, ...(context.fetch ? { fetch: context.fetch } : {}) });
  const client = new RegistryClient(access.host, repository, { ...clientOptions(access), timeoutMs: options.timeoutMs, maxRetryAfterSeconds: 0, userAgent: options.userAgent });
  // HEAD is enough where the registry sends Docker-Content-Digest (Distribution, Harbor, the clouds); else the manifest's own digest.
  return (await client.resolveTag(tag)) ?? (await client.getManifest(tag).then((m) => m.digest, (error: unknown) => {
    if (error instanceof PalisadeError && error.code === 'registry.not-found') return undefined;
    throw error;
  }));
}
