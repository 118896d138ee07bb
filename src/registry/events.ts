/** What any registry's webhook or poll says happened, in one shape. */
export type RegistryAction = 'push' | 'pull' | 'delete' | 'mount' | 'quarantine' | 'chart_push';

export interface RegistryEvent {
  /** The sender's event id when it has one (Distribution, ACR); deliveries are retried, so it dedupes. */
  id?: string;
  action: RegistryAction;
  repository: string;
  /** Manifest digest; absent when the sender names only a tag (Docker Hub), resolved before scanning. */
  digest?: string;
  tag?: string;
  mediaType?: string;
  userAgent?: string;
  actor?: string;
  /** Marked as an import by the sender (user agent or payload), not a build push. */
  import: boolean;
  at: Date;
}

/** Manifest media types that name an image or an index of images; blobs and other artifacts are not scanned. */
export const IMAGE_MANIFEST_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
]);

/** User agents of tools that copy images in rather than build them; `palisade registry import` sends the first (IMPORT_USER_AGENT). */
export const IMPORT_USER_AGENTS = [/^palisade-import\//i];

export function isImportUserAgent(userAgent: string | undefined): boolean {
  return !!userAgent && IMPORT_USER_AGENTS.some((pattern) => pattern.test(userAgent));
}

/**
 * Palisade's own registry client (a scan reading the image it was told about sends `palisade`).
 * Its reads are not pulls by a workload: counted as pulls, every scan would make its image look
 * in use and the daily rescan would scan it again, every day, for ever.
 */
export function isPalisadeScanUserAgent(userAgent: string | undefined): boolean {
  return !!userAgent && /^palisade(\/|$)/i.test(userAgent);
}
