import { PalisadeError } from '../../core/index.js';
import { isDigest, isPathComponent, isTag } from '../../image/index.js';

/**
 * The OCI distribution grammar for what a webhook or a registry listing names. Everything a
 * connector accepts is later put into a registry URL path, so anything outside the grammar is
 * refused here, before it is stored or queued: a repository such as `//evil.example/x` or
 * `../../v2/_catalog?x=` would otherwise steer the scan's requests (server-side request forgery).
 */

/** distribution/reference: path components joined by `/`, at most 255 characters in all. */
export const MAX_REPOSITORY_LENGTH = 255;

/** The grammar is image/reference.ts's, which parses the same names given on the command line. */
export function isRepositoryName(value: string): boolean {
  return value.length > 0 && value.length <= MAX_REPOSITORY_LENGTH && value.split('/').every(isPathComponent);
}

/** distribution/reference tag grammar; digests the client can verify (sha256, sha512): anything else could not be scanned. */
export { isTag, isDigest as isManifestDigest };

type NameKind = 'repository' | 'tag' | 'digest';

const GRAMMAR: Record<NameKind, string> = {
  repository: `lowercase path components ([a-z0-9] separated by . _ __ or -) joined by /, at most ${MAX_REPOSITORY_LENGTH} characters`,
  tag: 'a letter, digit or _ then up to 127 of [A-Za-z0-9_.-]',
  digest: 'sha256: and 64 lowercase hex digits, or sha512: and 128',
};

/** The refusal: a code naming what was wrong (`registry.webhook.invalid_repository`), the field's path, and a short, quoted excerpt. */
export function invalidName(kind: string, what: NameKind, field: string, value: string): PalisadeError {
  const excerpt = JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  const size = value.length > 80 ? ` (${value.length} characters)` : '';
  return new PalisadeError(`registry.webhook.invalid_${what}`, `${kind} webhook: ${field} is not a ${what}: ${excerpt}${size}`, {
    field,
    hint: `a ${what} is ${GRAMMAR[what]}`,
  });
}

const CHECK: Record<NameKind, (value: string) => boolean> = { repository: isRepositoryName, tag: isTag, digest: isDigest };

export function checkName(kind: string, what: NameKind, field: string, value: string): string {
  if (!CHECK[what](value)) throw invalidName(kind, what, field, value);
  return value;
}
