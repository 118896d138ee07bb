import type { Platform } from '../oci.js';
import { openArchiveFiles } from './archive.js';
import { openDockerFiles } from './docker-archive.js';
import { openOciFiles } from './oci-layout.js';
import type { ImageSource } from './source.js';

/**
 * `oci-archive:FILE[:TAG]`: a tar of an OCI layout, read in place. A `docker save` archive without
 * an OCI layout (Docker before 25) is read through its manifest.json instead, whichever name the user gave.
 */
export async function openOciArchive(file: string, tag: string | undefined, platform: Platform): Promise<ImageSource> {
  const name = `oci-archive:${file}${tag ? `:${tag}` : ''}`;
  const files = await openArchiveFiles(file, name);
  try {
    if (!files.has('index.json') && files.has('manifest.json')) return await openDockerFiles(files, tag);
    return await openOciFiles(files, tag, platform, `oci-archive:${file}`);
  } catch (error) {
    await files.close?.();
    throw error;
  }
}
