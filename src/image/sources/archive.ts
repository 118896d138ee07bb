import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { PalisadeError } from '../../core/index.js';

/**
 * Unpacks the regular files of an archive (oci-archive, docker save) into a private directory.
 * Names are normalised; `..`, absolute names and links are refused, so nothing lands outside `dir`.
 */
export async function unpackArchive(file: string, dir: string, what: string): Promise<string[]> {
  const written: string[] = [];
  const extract = tar.extract();
  const input = createReadStream(file).on('error', () => undefined);
  const opened = new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', (error) =>
      reject(new PalisadeError('image.source.not-found', `${what}: cannot read ${file}: ${(error as Error).message}`, { kind: 'not-found', field: 'image' })),
    );
  });
  await opened;
  extract.on('entry', (header, stream, next) => {
    const name = safeName(header.name);
    if (header.type !== 'file' || !name) {
      stream.resume();
      stream.on('end', next);
      return;
    }
    const target = path.join(dir, name);
    mkdir(path.dirname(target), { recursive: true })
      .then(() => pipeline(stream, createWriteStream(target, { flags: 'wx' })))
      .then(() => {
        written.push(name);
        next();
      })
      .catch((error: unknown) => next(error as Error));
  });
  try {
    await pipeline(input, extract);
  } catch (error) {
    throw new PalisadeError('image.archive.invalid', `${what}: ${file} is not a readable tar archive: ${(error as Error).message}`, { kind: 'unprocessable', cause: error });
  }
  return written;
}

/** `./a/b` → `a/b`; anything climbing out (`..`) or empty → undefined. */
export function safeName(name: string): string | undefined {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.some((p) => p === '..')) return undefined;
  return parts.join('/');
}
