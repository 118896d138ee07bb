import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PalisadeError } from '../../core/index.js';
import { detectCompression, inflateBounded } from '../layers.js';
import { indexTar, openArchiveHandle, SHARED_DESCRIPTOR, tarFiles, type ArchiveFiles } from './tar-index.js';

/**
 * Opens an image archive (`docker save`, `oci-archive`, `ctr export`) in place: its headers are
 * indexed once, and every file is then read from its offset. Nothing is unpacked to disk, except
 * for a compressed archive (`docker save | gzip`), which cannot be read by offset: it is inflated
 * once, under the layer limits, into a private temp file removed on close.
 */
export async function openArchiveFiles(file: string, name: string): Promise<ArchiveFiles> {
  // One descriptor for the index and every read after it: they all see the same file.
  const handle = await openArchiveHandle(file, name);
  let compressed: boolean;
  try {
    const head = Buffer.alloc(4);
    await handle.read(head, 0, 4, 0);
    compressed = detectCompression(head) !== 'none';
  } catch (error) {
    await handle.close();
    throw new PalisadeError('image.source.not-found', `${name}: cannot read ${file}: ${(error as Error).message}`, { kind: 'not-found', field: 'image' });
  }
  if (!compressed) return indexedFiles(handle, name);
  const dir = await mkdtemp(path.join(tmpdir(), 'palisade-archive-'));
  try {
    const plain = path.join(dir, 'archive.tar');
    await pipeline(createReadStream('', { fd: handle.fd, fs: SHARED_DESCRIPTOR, start: 0, highWaterMark: 1 << 20 }), (source: AsyncIterable<Buffer>) => inflateBounded(source, name), createWriteStream(plain));
    const files = await indexedFiles(await openArchiveHandle(plain, name), name);
    return { ...files, close: () => files.close!().finally(() => rm(dir, { recursive: true, force: true })) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    if (error instanceof PalisadeError) throw error;
    throw new PalisadeError('image.archive.invalid', `${name}: cannot inflate ${file}: ${(error as Error).message}`, { kind: 'unprocessable', field: 'image' });
  } finally {
    await handle.close();
  }
}

/** The archive's files, indexed through `handle`, which they then own (closed on failure here, else by their `close`). */
async function indexedFiles(handle: FileHandle, name: string): Promise<ArchiveFiles> {
  try {
    return tarFiles(await indexTar(handle, name), name, handle);
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** `./a/b` → `a/b`; anything climbing out (`..`) or empty → undefined. */
export function safeName(name: string): string | undefined {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.some((p) => p === '..')) return undefined;
  return parts.join('/');
}
