import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { PalisadeError } from '../../core/index.js';
import type { FileRegion } from '../region-digest.js';
import {
  MAX_CONFIG_BYTES,
  isLayerMediaType,
  parseConfig,
  parseManifestDocument,
  selectPlatform,
  verifyDigest,
  type ImageConfig,
  type ImageManifest,
  type Platform,
} from '../oci.js';

/** One layer of an image: its blob digest as stored, and its diff ID (digest of the uncompressed tar) from the config; '' when unknown (computed while reading). */
export interface LayerRef {
  digest: string;
  diffId: string;
  mediaType: string;
  size: number;
}

/** An image opened from any transport: the verified config and a way to stream each layer once. */
export interface ImageSource {
  /** What the user named (`oci:DIR:TAG`, `registry.local/app:1`). */
  name: string;
  /** Manifest digest, when the transport has a manifest (not docker-archive). */
  manifestDigest?: string;
  configDigest: string;
  config: ImageConfig;
  layers: LayerRef[];
  /** What the transport noticed and worked around (e.g. a docker save archive whose counts differ). */
  warnings?: string[];
  /** The layer blob, compressed as stored; the stream errors at its end if its digest does not match. */
  openLayer(layer: LayerRef): Promise<Readable>;
  /** Where the layer blob lies as stored in a plain file (archives read in place), so its digest can be computed beside the stream. */
  layerRegion?(layer: LayerRef): FileRegion | undefined;
  close(): Promise<void>;
}

/** What resolving needs from a transport: manifests and small blobs by digest. */
export interface BlobReader {
  readManifest(digest: string): Promise<{ data: Buffer; mediaType?: string }>;
  readBlob(digest: string, maxBytes: number): Promise<Buffer>;
}

export interface ResolvedImage {
  manifestDigest: string;
  manifest: ImageManifest;
  configDigest: string;
  config: ImageConfig;
  layers: LayerRef[];
}

/** Follows index → platform manifest → config; every document is checked against its digest. */
export async function resolveImage(
  reader: BlobReader,
  first: { data: Buffer; mediaType?: string; digest: string },
  platform: Platform,
  what: string,
): Promise<ResolvedImage> {
  let current = first;
  for (let depth = 0; depth < 4; depth++) {
    verifyDigest(current.data, current.digest, `${what}: manifest`);
    const doc = parseManifestDocument(current.data, current.mediaType, what);
    if (doc.kind === 'index') {
      const chosen = selectPlatform(doc.index, platform, what);
      const next = await reader.readManifest(chosen.digest);
      current = { ...next, digest: chosen.digest };
      continue;
    }
    const manifest = doc.manifest;
    const configData = await reader.readBlob(manifest.config.digest, MAX_CONFIG_BYTES);
    verifyDigest(configData, manifest.config.digest, `${what}: config`);
    const config = parseConfig(configData, `${what}: config`);
    const layers = layerRefs(manifest, config, what);
    return { manifestDigest: current.digest, manifest, configDigest: manifest.config.digest, config, layers };
  }
  throw new PalisadeError('image.manifest.invalid', `${what}: indexes nested too deeply`, { kind: 'unprocessable' });
}

export function layerRefs(manifest: ImageManifest, config: ImageConfig, what: string): LayerRef[] {
  const layers = manifest.layers.filter((l) => isLayerMediaType(l.mediaType));
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== layers.length) {
    throw new PalisadeError('image.manifest.invalid', `${what}: ${layers.length} layers but ${diffIds.length} diff IDs in the config`, { kind: 'unprocessable' });
  }
  return layers.map((l, i) => ({ digest: l.digest, diffId: diffIds[i]!, mediaType: l.mediaType, size: l.size }));
}

/** Passes bytes through and fails at the end when their digest differs from the expected one. */
export function digestVerifier(expected: string, what: string): Transform {
  const [algorithm, hex] = expected.split(':');
  if ((algorithm !== 'sha256' && algorithm !== 'sha512') || !hex) {
    throw new PalisadeError('image.digest.unsupported', `${what}: unsupported digest "${expected}"`, { kind: 'unprocessable' });
  }
  const hash = createHash(algorithm);
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      const actual = hash.digest('hex');
      if (actual !== hex) {
        done(
          new PalisadeError('image.digest.mismatch', `${what}: content digest ${algorithm}:${actual} does not match ${expected}`, {
            kind: 'unprocessable',
            hint: 'the blob is corrupt, truncated or tampered with',
          }),
        );
      } else done();
    },
  });
}

/** Reads a whole stream, refusing more than `maxBytes`. */
export async function readAll(stream: AsyncIterable<Buffer | Uint8Array>, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > maxBytes) {
      throw new PalisadeError('image.document.too-large', `${what} is larger than ${maxBytes} bytes`, { kind: 'too-large' });
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
