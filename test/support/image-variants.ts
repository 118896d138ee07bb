import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { fixture } from './fixtures.js';

const run = promisify(execFile);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function tarOf(name: string, content: string): Promise<Buffer> {
  const archive = pack();
  archive.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A writable copy of the debian12 fixture layout with `count` variants of its `app` image, tagged
 * `variant-N`: each adds one small layer of its own (so each has its own digest) on the shared
 * Debian layers (read once, then from the layer cache).
 */
export async function imageVariants(count: number, label = 'scale'): Promise<{ layout: string; dir: string; digests: string[] }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `palisade-${label}-images-`));
  const layout = path.join(dir, 'layout');
  await cp(fixture('images', 'debian12'), layout, { recursive: true });
  await run('chmod', ['-R', 'u+w', layout]);
  const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const appDescriptor = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'app')!;
  const blob = (digest: string) => path.join(layout, 'blobs', 'sha256', digest.split(':')[1]!);
  const manifest = JSON.parse(await readFile(blob(appDescriptor.digest), 'utf8'));
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8'));
  const digests: string[] = [];
  for (let n = 0; n < count; n++) {
    const tar = await tarOf('etc/palisade-variant', `${label} variant ${n}\n`);
    const gz = gzipSync(tar);
    await writeFile(blob(`sha256:${sha256(gz)}`), gz);
    const variantConfig = Buffer.from(JSON.stringify({ ...config, rootfs: { type: 'layers', diff_ids: [...config.rootfs.diff_ids, `sha256:${sha256(tar)}`] }, history: [...config.history, { created_by: `${label} variant ${n}` }] }));
    await writeFile(blob(`sha256:${sha256(variantConfig)}`), variantConfig);
    const variantManifest = Buffer.from(JSON.stringify({
      ...manifest,
      config: { ...manifest.config, digest: `sha256:${sha256(variantConfig)}`, size: variantConfig.length },
      layers: [...manifest.layers, { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${sha256(gz)}`, size: gz.length }],
    }));
    await writeFile(blob(`sha256:${sha256(variantManifest)}`), variantManifest);
    digests.push(`sha256:${sha256(variantManifest)}`);
    index.manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${sha256(variantManifest)}`, size: variantManifest.length, annotations: { 'org.opencontainers.image.ref.name': `variant-${n}` } } as never);
  }
  await writeFile(path.join(layout, 'index.json'), JSON.stringify(index));
  return { layout, dir, digests };
}
