import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Platform } from '../oci.js';
import { unpackArchive } from './archive.js';
import { openOciLayout } from './oci-layout.js';
import type { ImageSource } from './source.js';

/** `oci-archive:FILE[:TAG]`: a tar of an OCI layout, unpacked into a private temp dir removed on close. */
export async function openOciArchive(file: string, tag: string | undefined, platform: Platform): Promise<ImageSource> {
  const name = `oci-archive:${file}${tag ? `:${tag}` : ''}`;
  const dir = await mkdtemp(path.join(tmpdir(), 'palisade-oci-'));
  try {
    await unpackArchive(file, dir, name);
    const source = await openOciLayout(dir, tag, platform, name);
    return { ...source, close: () => rm(dir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
