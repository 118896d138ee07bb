import { PalisadeError } from '../../core/index.js';
import { MAX_CONFIG_BYTES, digestOf, parseConfig, type ImageConfig } from '../oci.js';
import { openArchiveFiles, safeName } from './archive.js';
import { openOciFiles } from './oci-layout.js';
import type { ImageSource, LayerRef } from './source.js';
import type { ArchiveFiles } from './tar-index.js';

interface DockerSaveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** The diff ID of an empty layer (1024 zero bytes: a tar with only its end blocks). */
const EMPTY_LAYER_DIFF_ID = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

/**
 * `docker-archive:FILE[:NAME:TAG|@N]` (`docker save`, `ctr export`): manifest.json names the config
 * and the layer files, read in place from the archive. There is no distribution manifest, so layers
 * are identified by their diff IDs, which the layer reader checks against the uncompressed bytes.
 * An archive with only an OCI layout (skopeo, BuildKit) is read as one, whichever name was given.
 */
export async function openDockerArchive(file: string, select: string | undefined): Promise<ImageSource> {
  const name = `docker-archive:${file}${select ? `:${select}` : ''}`;
  const files = await openArchiveFiles(file, name);
  try {
    if (!files.has('manifest.json') && files.has('index.json')) {
      return await openOciFiles(files, select?.startsWith('@') ? undefined : select, { os: 'linux', architecture: 'amd64' }, `docker-archive:${file}`);
    }
    return await openDockerFiles(files, select);
  } catch (error) {
    await files.close?.();
    throw error;
  }
}

export async function openDockerFiles(files: ArchiveFiles, select: string | undefined): Promise<ImageSource> {
  const name = files.name;
  if (!files.has('manifest.json')) {
    throw new PalisadeError('image.archive.invalid', `${name}: no manifest.json or index.json (not a docker save or OCI archive)`, { kind: 'unprocessable', field: 'image' });
  }
  let entries: DockerSaveEntry[];
  try {
    entries = JSON.parse((await files.read('manifest.json', MAX_CONFIG_BYTES)).toString('utf8')) as DockerSaveEntry[];
    if (!Array.isArray(entries) || entries.some((e) => !e || typeof e.Config !== 'string' || !Array.isArray(e.Layers))) throw new Error('not a list');
  } catch (error) {
    if (error instanceof PalisadeError) throw error;
    throw new PalisadeError('image.archive.invalid', `${name}: manifest.json is not a list of images`, { kind: 'unprocessable' });
  }
  const entry = chooseEntry(entries, select, name);
  const configData = await files.read(member(files, entry.Config, name), MAX_CONFIG_BYTES);
  const config = parseConfig(configData, `${name}: config`);
  const warnings: string[] = [];
  const diffIds = layerDiffIds(entry, config, name, warnings);
  const paths = new Map<LayerRef, string>();
  const layers: LayerRef[] = entry.Layers.map((layerPath, i) => {
    const file = member(files, layerPath, name);
    const ref: LayerRef = { digest: diffIds[i] || `${name}#${layerPath}`, diffId: diffIds[i]!, mediaType: 'application/vnd.docker.image.rootfs.diff.tar', size: files.size(file) ?? -1 };
    paths.set(ref, file);
    return ref;
  });
  return {
    name,
    configDigest: digestOf(configData),
    config,
    layers,
    warnings,
    async openLayer(layer) {
      const path = paths.get(layer)!;
      if (!files.has(path)) throw new PalisadeError('image.blob.missing', `${name}: layer file ${path} is missing`, { kind: 'unprocessable' });
      return files.open(path);
    },
    layerRegion: (layer) => files.region?.(paths.get(layer)!),
    close: async () => files.close?.(),
  };
}

/**
 * The diff ID of each layer manifest.json lists. Usually the config lists the same number, in
 * order. Some tools leave empty layers out of manifest.json, or trim images: then a layer named by
 * its digest (`blobs/sha256/HEX`, uncompressed) takes that diff ID, empty-layer diff IDs are
 * dropped, and what is left is matched in order when the counts agree. A layer that cannot be
 * matched gets '' and is read unverified (its diff ID computed while reading), with a warning.
 */
function layerDiffIds(entry: DockerSaveEntry, config: ImageConfig, name: string, warnings: string[]): string[] {
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length === entry.Layers.length) return diffIds;
  const named = entry.Layers.map((p) => {
    const hex = /([a-f0-9]{64})(?:\/layer\.tar|\.tar)?$/.exec(p)?.[1];
    return hex && diffIds.includes(`sha256:${hex}`) ? `sha256:${hex}` : undefined;
  });
  const left = diffIds.filter((d) => !named.includes(d) && !(entry.Layers.length < diffIds.length && d === EMPTY_LAYER_DIFF_ID));
  const unnamed = named.filter((d) => d === undefined).length;
  const result = named.map((d) => d ?? (left.length === unnamed ? left.shift()! : ''));
  const steps = (config.history ?? []).filter((h) => !h.empty_layer).length;
  warnings.push(
    `${name}: the config lists ${diffIds.length} diff IDs (${steps} non-empty history steps) but manifest.json ${entry.Layers.length} layers; ` +
      (result.includes('') ? 'layers that match no diff ID are read unverified' : 'following manifest.json'),
  );
  return result;
}

function chooseEntry(entries: DockerSaveEntry[], select: string | undefined, name: string): DockerSaveEntry {
  if (select?.startsWith('@')) {
    const entry = entries[Number(select.slice(1))];
    if (entry) return entry;
  } else if (select) {
    const wanted = select.includes(':') ? select : `${select}:latest`;
    const entry = entries.find((e) => (e.RepoTags ?? []).some((t) => t === wanted || t.endsWith(`/${wanted}`)));
    if (entry) return entry;
  } else if (entries.length === 1) {
    return entries[0]!;
  }
  const tags = entries.flatMap((e) => e.RepoTags ?? []);
  throw new PalisadeError('image.tag.not-found', select ? `${name}: no image "${select}" in the archive` : `${name}: the archive holds ${entries.length} images; name one`, {
    kind: 'not-found',
    field: 'image',
    hint: tags.length ? `images in this archive: ${tags.join(', ')} (or @INDEX)` : 'select one with @INDEX',
  });
}

function member(files: ArchiveFiles, path: unknown, name: string): string {
  const safe = typeof path === 'string' ? safeName(path) : undefined;
  if (!safe) throw new PalisadeError('image.archive.invalid', `${name}: manifest.json names an unsafe path "${String(path)}"`, { kind: 'unprocessable' });
  if (!files.has(safe)) throw new PalisadeError('image.blob.missing', `${name}: manifest.json names ${safe}, which is not in the archive`, { kind: 'unprocessable' });
  return safe;
}
