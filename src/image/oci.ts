import { createHash } from 'node:crypto';
import { PalisadeError } from '../core/index.js';

/** OCI image-spec and Docker schema 2 documents: only the fields analysis needs, validated on read. */

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest].join(', ');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageManifest {
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  mediaType: string;
  manifests: Descriptor[];
}

export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: { Env?: string[]; Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string; User?: string; Labels?: Record<string, string> };
  rootfs?: { type: string; diff_ids: string[] };
  history?: Array<{ created_by?: string; empty_layer?: boolean }>;
}

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

export function digestOf(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A document fetched by digest must hash to that digest: anything else is tampering or corruption. */
export function verifyDigest(data: Uint8Array, expected: string, what: string): void {
  const [algorithm, hex] = expected.split(':');
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw new PalisadeError('image.digest.unsupported', `${what}: unsupported digest algorithm in "${expected}"`, { kind: 'unprocessable' });
  }
  const actual = createHash(algorithm).update(data).digest('hex');
  if (actual !== hex) {
    throw new PalisadeError('image.digest.mismatch', `${what}: content digest ${algorithm}:${actual} does not match ${expected}`, {
      kind: 'unprocessable',
      hint: 'the registry or file served content that is not what the manifest names; the image may be corrupt or tampered with',
    });
  }
}

function bad(what: string, why: string): PalisadeError {
  return new PalisadeError('image.manifest.invalid', `${what}: ${why}`, { kind: 'unprocessable' });
}

function parseJson(data: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    throw bad(what, 'not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw bad(what, 'not a JSON object');
  return value as Record<string, unknown>;
}

function descriptor(value: unknown, what: string): Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (!d || typeof d.digest !== 'string' || !/^sha(256|512):[a-f0-9]+$/.test(d.digest)) throw bad(what, 'descriptor without a valid digest');
  return {
    mediaType: typeof d.mediaType === 'string' ? d.mediaType : '',
    digest: d.digest,
    size: typeof d.size === 'number' ? d.size : -1,
    ...(d.platform && typeof d.platform === 'object' ? { platform: d.platform } : {}),
    ...(d.annotations && typeof d.annotations === 'object' ? { annotations: d.annotations } : {}),
  };
}

export type ManifestDocument = { kind: 'index'; index: ImageIndex } | { kind: 'manifest'; manifest: ImageManifest };

/** Parses a manifest or an index; the media type comes from the document, else from the transport header. */
export function parseManifestDocument(data: Uint8Array, headerMediaType: string | undefined, what: string): ManifestDocument {
  const doc = parseJson(data, what);
  const mediaType = (typeof doc.mediaType === 'string' && doc.mediaType) || headerMediaType?.split(';')[0]?.trim() || '';
  if (doc.schemaVersion === 1) {
    throw new PalisadeError('image.manifest.unsupported', `${what}: Docker schema 1 manifests are not supported`, {
      kind: 'unprocessable',
      hint: 'push the image again with a current client (schema 2 or OCI)',
    });
  }
  if (Array.isArray(doc.manifests) || mediaType === MEDIA.ociIndex || mediaType === MEDIA.dockerList) {
    if (!Array.isArray(doc.manifests)) throw bad(what, 'index without manifests');
    return { kind: 'index', index: { mediaType, manifests: doc.manifests.map((m) => descriptor(m, what)) } };
  }
  if (!doc.config || !Array.isArray(doc.layers)) throw bad(what, 'manifest without config or layers');
  return { kind: 'manifest', manifest: { mediaType, config: descriptor(doc.config, what), layers: doc.layers.map((l) => descriptor(l, what)) } };
}

export function parseConfig(data: Uint8Array, what: string): ImageConfig {
  const doc = parseJson(data, what) as ImageConfig;
  if (doc.rootfs && (!Array.isArray(doc.rootfs.diff_ids) || doc.rootfs.diff_ids.some((d) => typeof d !== 'string'))) {
    throw bad(what, 'rootfs.diff_ids is not a list of digests');
  }
  return doc;
}

export function parsePlatform(value: string): Platform {
  const [os, architecture, variant] = value.split('/');
  if (!os || !architecture) {
    throw new PalisadeError('image.platform.invalid', `invalid platform "${value}"`, { field: 'platform', hint: 'write OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8' });
  }
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** A BuildKit attestation manifest (provenance, SBOM) listed in an index beside the images it describes. */
export function isAttestation(m: Descriptor): boolean {
  return m.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' || (m.platform?.os === 'unknown' && m.platform.architecture === 'unknown');
}

/** Picks the manifest for a platform; arm64 without a variant matches v8, as containerd does. Attestations are skipped. */
export function selectPlatform(index: ImageIndex, wanted: Platform, what: string): Descriptor {
  const norm = (p: Platform) => ({ ...p, variant: p.variant ?? (p.architecture === 'arm64' ? 'v8' : undefined) });
  const w = norm(wanted);
  const images = index.manifests.filter((m) => !isAttestation(m));
  const candidates = images.filter((m) => m.platform && m.platform.os === w.os && m.platform.architecture === w.architecture);
  const exact = candidates.find((m) => !w.variant || norm(m.platform!).variant === w.variant);
  const found = exact ?? (wanted.variant ? undefined : candidates[0]);
  if (!found) {
    const available = images.filter((m) => m.platform).map((m) => formatPlatform(m.platform!));
    throw new PalisadeError('image.platform.missing', `${what} has no image for ${formatPlatform(wanted)}`, {
      kind: 'not-found',
      field: 'platform',
      hint: available.length ? `available: ${[...new Set(available)].join(', ')}` : 'the index lists no platforms',
    });
  }
  return found;
}

export function isLayerMediaType(mediaType: string): boolean {
  return mediaType === '' || mediaType.includes('.layer.') || mediaType.includes('rootfs.diff');
}
