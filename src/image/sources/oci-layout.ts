import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import { PalisadeError } from '../../core/index.js';
import { MAX_MANIFEST_BYTES, isAttestation, parseManifestDocument, type Descriptor, type Platform } from '../oci.js';
import { safeName } from './archive.js';
import { digestVerifier, readAll, resolveImage, type BlobReader, type ImageSource, type LayerRef } from './source.js';
import type { ArchiveFiles } from './tar-index.js';

/** An OCI image layout directory (image-spec image-layout.md): index.json plus blobs/ALG/HEX. */
export async function openOciLayout(dir: string, tag: string | undefined, platform: Platform, name = `oci:${dir}${tag ? `:${tag}` : ''}`): Promise<ImageSource> {
  const files = directoryFiles(dir, name);
  if (!files.has('oci-layout')) {
    throw new PalisadeError('image.source.not-found', `${name}: ${dir} is not an OCI image layout (no oci-layout file)`, {
      kind: 'not-found',
      field: 'image',
      hint: 'point oci: at a directory written by skopeo, umoci or buildah (it holds oci-layout, index.json and blobs/)',
    });
  }
  return openOciFiles(files, tag, platform, `oci:${dir}`);
}

/** The layout's files in a directory, read where they are. */
export function directoryFiles(dir: string, name: string): ArchiveFiles {
  const full = (member: string) => {
    const safe = safeName(member);
    if (!safe) throw new PalisadeError('image.archive.invalid', `${name}: unsafe path "${member}"`, { kind: 'unprocessable' });
    return path.join(dir, safe);
  };
  const size = (member: string) => {
    try {
      const s = statSync(full(member));
      return s.isFile() ? s.size : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    name,
    has: (member) => size(member) !== undefined,
    size,
    open: (member) => createReadStream(full(member), { highWaterMark: 1 << 20 }),
    read: (member, maxBytes) => readAll(createReadStream(full(member)), maxBytes, `${name}: ${member}`),
  };
}

/** A reference names an image by tag (`ref.name`), by the full name containerd records, or by digest. */
function selects(m: Descriptor, wanted: string): boolean {
  const names = [m.annotations?.['org.opencontainers.image.ref.name'], m.annotations?.['io.containerd.image.name']].filter((n): n is string => !!n);
  return m.digest === wanted || names.some((n) => n === wanted || n.endsWith(`/${wanted}`) || n.endsWith(`:${wanted}`) || n === `${wanted}:latest` || n.endsWith(`/${wanted}:latest`));
}

/** An OCI layout from any file set: a directory, or an archive read in place (`oci-archive:`, `ctr export`). */
export async function openOciFiles(files: ArchiveFiles, tag: string | undefined, platform: Platform, where: string): Promise<ImageSource> {
  const name = files.name;
  const reader = layoutReader(files);
  const indexData = await files.read('index.json', MAX_MANIFEST_BYTES).catch((error: unknown) => {
    if (error instanceof PalisadeError && error.code !== 'image.blob.missing') throw error;
    throw new PalisadeError('image.manifest.invalid', `${name}: the layout has no index.json`, { kind: 'unprocessable' });
  });
  const doc = parseManifestDocument(indexData, undefined, `${name}: index.json`);
  if (doc.kind !== 'index') throw new PalisadeError('image.manifest.invalid', `${name}: index.json is not an image index`, { kind: 'unprocessable' });
  // Build attestations (provenance, SBOM) sit beside images in an index; they are not images.
  const manifests = doc.index.manifests.filter((m) => !isAttestation(m));
  const tagOf = (m: Descriptor) => m.annotations?.['org.opencontainers.image.ref.name'] ?? m.annotations?.['io.containerd.image.name'];
  const chosen = tag ? manifests.find((m) => selects(m, tag)) : manifests.length === 1 ? manifests[0] : undefined;
  if (!chosen) {
    const tags = manifests.map(tagOf).filter(Boolean);
    throw new PalisadeError('image.tag.not-found', tag ? `${name}: no image tagged "${tag}"` : `${name}: the layout holds ${manifests.length} images; name one`, {
      kind: 'not-found',
      field: 'image',
      hint: tags.length ? `tags in this layout: ${tags.join(', ')} (write ${where}:TAG)` : 'the layout has no tagged images',
    });
  }
  const first = await reader.readManifest(chosen.digest);
  const resolved = await resolveImage(reader, { ...first, digest: chosen.digest, mediaType: first.mediaType ?? chosen.mediaType }, platform, name);
  return {
    name,
    manifestDigest: resolved.manifestDigest,
    configDigest: resolved.configDigest,
    config: resolved.config,
    layers: resolved.layers,
    async openLayer(layer: LayerRef) {
      const member = reader.blobPath(layer.digest);
      if (!files.has(member)) throw new PalisadeError('image.blob.missing', `${name}: layer ${layer.digest} is missing`, { kind: 'unprocessable' });
      return files.open(member).pipe(digestVerifier(layer.digest, `${name}: layer ${layer.digest}`));
    },
    close: async () => files.close?.(),
  };
}

function layoutReader(files: ArchiveFiles): BlobReader & { blobPath(digest: string): string } {
  const blobPath = (digest: string) => {
    const m = /^(sha256|sha512):([a-f0-9]{64,128})$/.exec(digest);
    if (!m) throw new PalisadeError('image.digest.invalid', `${files.name}: invalid digest "${digest}"`, { kind: 'unprocessable' });
    return `blobs/${m[1]!}/${m[2]!}`;
  };
  const readBlob = async (digest: string, maxBytes: number) => {
    const member = blobPath(digest);
    if (!files.has(member)) throw new PalisadeError('image.blob.missing', `${files.name}: blob ${digest} is missing from the layout`, { kind: 'unprocessable' });
    return files.read(member, maxBytes);
  };
  return {
    blobPath,
    readBlob,
    async readManifest(digest) {
      return { data: await readBlob(digest, MAX_MANIFEST_BYTES) };
    },
  };
}
