import { open } from 'node:fs/promises';
import { PalisadeError } from '../../core/index.js';
import { detectCompression } from '../layers.js';
import { indexTar, tarFiles, type ArchiveFiles } from './tar-index.js';

/**
 * Opens an image archive (`docker save`, `oci-archive`, `ctr export`) in place: its headers are
 * indexed once, and every file is then read from its offset. Nothing is unpacked to disk.
 */
export async function openArchiveFiles(file: string, name: string): Promise<ArchiveFiles> {
  const head = Buffer.alloc(4);
  try {
    const handle = await open(file, 'r');
    try {
      await handle.read(head, 0, 4, 0);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new PalisadeError('image.source.not-found', `${name}: cannot read ${file}: ${(error as Error).message}`, { kind: 'not-found', field: 'image' });
  }
  const compression = detectCompression(head);
  if (compression !== 'none') {
    throw new PalisadeError('image.archive.compressed', `${name}: ${file} is a ${compression}-compressed archive`, {
      kind: 'unprocessable',
      field: 'image',
      hint: `decompress it first (${compression === 'gzip' ? 'gunzip' : 'unzstd'} ${file}): layers are read in place from the tar`,
    });
  }
  return tarFiles(file, await indexTar(file, name), name);
}

/** `./a/b` → `a/b`; anything climbing out (`..`) or empty → undefined. */
export function safeName(name: string): string | undefined {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.some((p) => p === '..')) return undefined;
  return parts.join('/');
}
