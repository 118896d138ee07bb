import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PalisadeError } from '../../core/index.js';
import { MAX_CONFIG_BYTES, digestOf, parseConfig } from '../oci.js';
import { safeName, unpackArchive } from './archive.js';
import { readAll, type ImageSource, type LayerRef } from './source.js';

interface DockerSaveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/**
 * `docker-archive:FILE[:NAME:TAG|@N]` (`docker save`): manifest.json names the config and the layer tars.
 * There is no distribution manifest, so layers are identified by their diff IDs, which the layer
 * reader checks against the uncompressed bytes.
 */
export async function openDockerArchive(file: string, select: string | undefined): Promise<ImageSource> {
  const name = `docker-archive:${file}${select ? `:${select}` : ''}`;
  const dir = await mkdtemp(path.join(tmpdir(), 'palisade-docker-'));
  try {
    await unpackArchive(file, dir, name);
    const manifestText = await readFile(path.join(dir, 'manifest.json'), 'utf8').catch(() => {
      throw new PalisadeError('image.archive.invalid', `${name}: no manifest.json (not a docker save archive)`, { kind: 'unprocessable', field: 'image' });
    });
    let entries: DockerSaveEntry[];
    try {
      entries = JSON.parse(manifestText) as DockerSaveEntry[];
      if (!Array.isArray(entries)) throw new Error('not a list');
    } catch {
      throw new PalisadeError('image.archive.invalid', `${name}: manifest.json is not a list of images`, { kind: 'unprocessable' });
    }
    const entry = chooseEntry(entries, select, name);
    const configPath = resolveInside(dir, entry.Config, name);
    const configData = await readAll(createReadStream(configPath), MAX_CONFIG_BYTES, `${name}: config`);
    const config = parseConfig(configData, `${name}: config`);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== entry.Layers.length) {
      throw new PalisadeError('image.manifest.invalid', `${name}: ${entry.Layers.length} layers but ${diffIds.length} diff IDs in the config`, { kind: 'unprocessable' });
    }
    const files = new Map<string, string>();
    const layers: LayerRef[] = entry.Layers.map((layerPath, i) => {
      const diffId = diffIds[i]!;
      files.set(diffId, resolveInside(dir, layerPath, name));
      return { digest: diffId, diffId, mediaType: 'application/vnd.docker.image.rootfs.diff.tar', size: -1 };
    });
    return {
      name,
      configDigest: digestOf(configData),
      config,
      layers,
      async openLayer(layer) {
        const layerFile = files.get(layer.diffId)!;
        await stat(layerFile).catch(() => {
          throw new PalisadeError('image.blob.missing', `${name}: layer file for ${layer.diffId} is missing`, { kind: 'unprocessable' });
        });
        return createReadStream(layerFile, { highWaterMark: 1 << 20 });
      },
      close: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
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

function resolveInside(dir: string, member: string, name: string): string {
  const safe = typeof member === 'string' ? safeName(member) : undefined;
  if (!safe) throw new PalisadeError('image.archive.invalid', `${name}: manifest.json names an unsafe path "${String(member)}"`, { kind: 'unprocessable' });
  return path.join(dir, safe);
}
