import { createHash } from 'node:crypto';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

/** A file with a hole before its last bytes, as `tar --sparse` stores sparsely: on disk it must have one. */
export function writeSparseFile(file: string, size: number, tail: string): void {
  const fd = openSync(file, 'w');
  writeSync(fd, tail, size - Buffer.byteLength(tail));
  closeSync(fd);
  if (statSync(file).blocks * 512 >= size) throw new Error(`${file} has no hole on this file system: the sparse tests need one`);
}

/** Sets a tar header block's checksum after its fields were written or changed (POSIX: the unsigned sum, the field counted as spaces). */
export function writeTarChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i]!;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

/** Builds small OCI layouts from tar entries, for tests of hostile and edge-case layers. */
export interface TestEntry {
  name: string;
  type?: 'file' | 'symlink' | 'link' | 'directory';
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
}

export async function tarOf(entries: TestEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const e of entries) {
    const content = e.content === undefined ? undefined : Buffer.from(e.content);
    const header = { name: e.name, type: e.type ?? 'file', mode: e.mode ?? (e.type === 'directory' ? 0o755 : 0o644), ...(e.linkname ? { linkname: e.linkname } : {}), size: content?.length ?? 0 } as tar.Header;
    if (content) pack.entry(header, content);
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface BuiltLayer {
  /** The blob as stored (gzip unless `raw`). */
  blob: Buffer;
  /** The uncompressed tar, for the diff ID. */
  tar: Buffer;
}

export function gzipLayer(tarBytes: Buffer): BuiltLayer {
  return { blob: gzipSync(tarBytes, { level: 1 }), tar: tarBytes };
}

/** Writes an OCI layout holding one image tagged `tag`, and returns the manifest digest. */
export async function writeLayout(dir: string, layers: BuiltLayer[], tag = 'test', config: Record<string, unknown> = {}): Promise<string> {
  await mkdir(path.join(dir, 'blobs/sha256'), { recursive: true });
  const put = async (data: Buffer) => {
    const digest = sha(data);
    await writeFile(path.join(dir, 'blobs/sha256', digest.slice(7)), data);
    return digest;
  };
  const layerDescriptors = [];
  for (const layer of layers) {
    layerDescriptors.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: await put(layer.blob), size: layer.blob.length });
  }
  const configBlob = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => sha(l.tar)) }, ...config }));
  const configDigest = await put(configBlob);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: configBlob.length }, layers: layerDescriptors }));
  const manifestDigest = await put(manifest);
  await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }] }));
  return manifestDigest;
}
