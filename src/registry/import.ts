import { PalisadeError } from '../core/index.js';
import { dockerConfigCredentials, parseReference, RegistryClient, type ImageReference, type RegistryCredentials } from '../image/index.js';

/** Pushes by `palisade registry import` carry this user agent, so the destination's webhook marks them as imports. */
export const IMPORT_USER_AGENT = 'palisade-import/0.1.0';

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

export interface ImportOptions {
  insecure?: boolean;
  sourceCredentials?: RegistryCredentials;
  destinationCredentials?: RegistryCredentials;
  fetch?: typeof fetch;
}

export interface ImportReport {
  source: string;
  destination: string;
  digest: string;
  manifests: number;
  blobsCopied: number;
  blobsMounted: number;
  blobsPresent: number;
  bytesCopied: number;
}

interface Manifest {
  mediaType?: string;
  config?: { digest: string; size: number };
  layers?: Array<{ digest: string; size: number }>;
  manifests?: Array<{ digest: string; mediaType?: string }>;
}

/**
 * Copies an image, every platform of an index included, through the OCI distribution API:
 * blobs the destination has are skipped, blobs of the same registry are mounted across
 * repositories, others are streamed from source to destination without touching disk.
 * The push carries IMPORT_USER_AGENT, so the destination registry's webhook queues an
 * import scan in Palisade.
 */
export async function importImage(sourceRef: string, destinationRef: string, options: ImportOptions = {}): Promise<ImportReport> {
  const source = parseReference(sourceRef.replace(/^docker:\/\//, ''));
  const destination = parseReference(destinationRef.replace(/^docker:\/\//, ''));
  if (destination.digest) throw new PalisadeError('registry.import.destination', 'the destination must name a tag, not a digest', { field: 'destination', hint: 'for example registry.example.com/team/app:1.0' });
  const from = new RegistryClient(source.registry, source.repository, client(options, options.sourceCredentials ?? (await dockerConfigCredentials(source.registry))));
  const to = new RegistryClient(destination.registry, destination.repository, {
    ...client(options, options.destinationCredentials ?? (await dockerConfigCredentials(destination.registry))),
    actions: 'pull,push',
    userAgent: IMPORT_USER_AGENT,
  });
  const sameRegistry = source.registry === destination.registry;
  const report: ImportReport = { source: sourceRef, destination: destinationRef, digest: '', manifests: 0, blobsCopied: 0, blobsMounted: 0, blobsPresent: 0, bytesCopied: 0 };

  async function copyBlob(digest: string, size: number): Promise<void> {
    if (await to.hasBlob(digest)) {
      report.blobsPresent++;
      return;
    }
    if (sameRegistry && (await to.mountBlob(digest, source.repository))) {
      report.blobsMounted++;
      return;
    }
    await to.pushBlob(digest, size, await from.openBlob(digest));
    report.blobsCopied++;
    report.bytesCopied += size;
  }

  async function copyManifest(reference: string, tag?: string): Promise<string> {
    const { data, mediaType, digest } = await from.getManifest(reference);
    const manifest = JSON.parse(data.toString('utf8')) as Manifest;
    const type = manifest.mediaType ?? mediaType?.split(';')[0] ?? '';
    if (INDEX_TYPES.has(type)) {
      for (const child of manifest.manifests ?? []) await copyManifest(child.digest);
    } else {
      if (!manifest.config || !manifest.layers) throw new PalisadeError('registry.import.manifest', `${describe(source)}: manifest ${digest} has no config or layers`, { kind: 'unprocessable' });
      for (const blob of [manifest.config, ...manifest.layers]) await copyBlob(blob.digest, blob.size);
    }
    // The exact bytes go back, so the digest (and any signature over it) is unchanged.
    await to.putManifest(tag ?? digest, data, type);
    report.manifests++;
    return digest;
  }

  report.digest = await copyManifest(source.digest ?? source.tag ?? 'latest', destination.tag ?? 'latest');
  return report;
}

function client(options: ImportOptions, credentials: RegistryCredentials | undefined) {
  return {
    ...(options.insecure ? { insecure: true } : {}),
    ...(credentials ? { credentials } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
}

function describe(reference: ImageReference): string {
  return `${reference.registry}/${reference.repository}`;
}
