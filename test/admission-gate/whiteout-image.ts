import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { fixture } from '../support/fixtures.js';

const run = promisify(execFile);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * A writable copy of the debian12 fixture layout with one more image, tagged `TAG`: the `app`
 * image plus a layer that deletes `PATH` with an OCI whiteout (`.wh.NAME`), as `RUN rm -rf PATH`
 * in a Dockerfile would. Removing app/node_modules/minimist takes away the image's only critical
 * finding (GHSA-xvch-5gv4-984h) and leaves its high ones (lodash).
 */
export async function appWithout(removed: string, tag: string): Promise<{ layout: string; dir: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-gate-images-'));
  const layout = path.join(dir, 'layout');
  await cp(fixture('images', 'debian12'), layout, { recursive: true });
  await run('chmod', ['-R', 'u+w', layout]);
  const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<Record<string, unknown> & { digest: string; annotations?: Record<string, string> }> };
  const app = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'app')!;
  const blob = (digest: string) => path.join(layout, 'blobs', 'sha256', digest.split(':')[1]!);
  const manifest = JSON.parse(await readFile(blob(app.digest), 'utf8'));
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8'));

  const archive = pack();
  archive.entry({ name: path.posix.join(path.posix.dirname(removed), `.wh.${path.posix.basename(removed)}`), mode: 0o644, mtime: new Date(0) }, '');
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  const tar = Buffer.concat(chunks);
  const gz = gzipSync(tar);
  await writeFile(blob(`sha256:${sha256(gz)}`), gz);
  const newConfig = Buffer.from(JSON.stringify({
    ...config,
    rootfs: { type: 'layers', diff_ids: [...config.rootfs.diff_ids, `sha256:${sha256(tar)}`] },
    history: [...config.history, { created_by: `RUN rm -rf /${removed}` }],
  }));
  await writeFile(blob(`sha256:${sha256(newConfig)}`), newConfig);
  const newManifest = Buffer.from(JSON.stringify({
    ...manifest,
    config: { ...manifest.config, digest: `sha256:${sha256(newConfig)}`, size: newConfig.length },
    layers: [...manifest.layers, { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${sha256(gz)}`, size: gz.length }],
  }));
  await writeFile(blob(`sha256:${sha256(newManifest)}`), newManifest);
  index.manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${sha256(newManifest)}`, size: newManifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } });
  await writeFile(path.join(layout, 'index.json'), JSON.stringify(index));
  return { layout, dir };
}
