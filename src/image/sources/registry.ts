import type { Platform } from '../oci.js';
import { formatReference, type ImageReference } from '../reference.js';
import { dockerConfigCredentials, type RegistryCredentials } from '../registry/auth.js';
import { RegistryClient } from '../registry/client.js';
import { resolveImage, type ImageSource } from './source.js';

export interface RegistrySourceOptions {
  insecure?: boolean;
  credentials?: RegistryCredentials;
  /** Path of a docker config.json; default ~/.docker/config.json. */
  dockerConfig?: string;
  fetch?: typeof fetch;
}

/** `docker://REF` or a bare reference: pulled through the distribution API, every document verified. */
export async function openRegistryImage(reference: ImageReference, platform: Platform, options: RegistrySourceOptions = {}): Promise<ImageSource> {
  const credentials = options.credentials ?? (await dockerConfigCredentials(reference.registry, options.dockerConfig));
  const client = new RegistryClient(reference.registry, reference.repository, {
    ...(options.insecure ? { insecure: true } : {}),
    ...(credentials ? { credentials } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const name = formatReference(reference);
  const first = await client.getManifest(reference.digest ?? reference.tag ?? 'latest');
  const resolved = await resolveImage(
    {
      readManifest: (digest) => client.getManifest(digest),
      readBlob: (digest, max) => client.getBlob(digest, max),
    },
    first,
    platform,
    name,
  );
  return {
    name,
    manifestDigest: resolved.manifestDigest,
    configDigest: resolved.configDigest,
    config: resolved.config,
    layers: resolved.layers,
    openLayer: (layer) => client.openBlob(layer.digest),
    async close() {},
  };
}
