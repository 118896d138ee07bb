import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { PalisadeError } from '../../core/index.js';
import { MAX_MANIFEST_BYTES, parseManifestDocument, type Platform } from '../oci.js';
import { digestVerifier, readAll, resolveImage, type BlobReader, type ImageSource, type LayerRef } from './source.js';

/** An OCI image layout directory (image-spec image-layout.md): index.json plus blobs/ALG/HEX. */
export async function openOciLayout(dir: string, tag: string | undefined, platform: Platform, name = `oci:${dir}${tag ? `:${tag}` : ''}`): Promise<ImageSource> {
  const layoutFile = path.join(dir, 'oci-layout');
  const layout = await readFile(layoutFile, 'utf8').catch(() => undefined);
  if (layout === undefined) {
    throw new PalisadeError('image.source.not-found', `${name}: ${dir} is not an OCI image layout (no oci-layout file)`, {
      kind: 'not-found',
      field: 'image',
      hint: 'point oci: at a directory written by skopeo, umoci or buildah (it holds oci-layout, index.json and blobs/)',
    });
  }
  const reader = layoutReader(dir, name);
  const indexData = await readAll(createReadStream(path.join(dir, 'index.json')), MAX_MANIFEST_BYTES, `${name}: index.json`);
  const doc = parseManifestDocument(indexData, undefined, `${name}: index.json`);
  if (doc.kind !== 'index') throw new PalisadeError('image.manifest.invalid', `${name}: index.json is not an image index`, { kind: 'unprocessable' });
  const manifests = doc.index.manifests;
  const tagOf = (m: (typeof manifests)[number]) => m.annotations?.['org.opencontainers.image.ref.name'];
  const chosen = tag ? manifests.find((m) => tagOf(m) === tag || m.digest === tag) : manifests.length === 1 ? manifests[0] : undefined;
  if (!chosen) {
    const tags = manifests.map(tagOf).filter(Boolean);
    throw new PalisadeError('image.tag.not-found', tag ? `${name}: no image tagged "${tag}"` : `${name}: the layout holds ${manifests.length} images; name one`, {
      kind: 'not-found',
      field: 'image',
      hint: tags.length ? `tags in this layout: ${tags.join(', ')} (write oci:${dir}:TAG)` : 'the layout has no tagged images',
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
      const file = reader.blobPath(layer.digest);
      await stat(file).catch(() => {
        throw new PalisadeError('image.blob.missing', `${name}: layer ${layer.digest} is missing from the layout`, { kind: 'unprocessable' });
      });
      return createReadStream(file, { highWaterMark: 1 << 20 }).pipe(digestVerifier(layer.digest, `${name}: layer ${layer.digest}`));
    },
    async close() {},
  };
}

function layoutReader(dir: string, name: string): BlobReader & { blobPath(digest: string): string } {
  const blobPath = (digest: string) => {
    const m = /^(sha256|sha512):([a-f0-9]{64,128})$/.exec(digest);
    if (!m) throw new PalisadeError('image.digest.invalid', `${name}: invalid digest "${digest}"`, { kind: 'unprocessable' });
    return path.join(dir, 'blobs', m[1]!, m[2]!);
  };
  const readBlob = async (digest: string, maxBytes: number) => {
    const file = blobPath(digest);
    try {
      return await readAll(createReadStream(file), maxBytes, `${name}: blob ${digest}`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new PalisadeError('image.blob.missing', `${name}: blob ${digest} is missing from the layout`, { kind: 'unprocessable' });
      }
      throw error;
    }
  };
  return {
    blobPath,
    readBlob,
    async readManifest(digest) {
      return { data: await readBlob(digest, MAX_MANIFEST_BYTES) };
    },
  };
}
