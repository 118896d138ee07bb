import { PalisadeError } from '../../core/index.js';
import type { RegistryCredentials } from './auth.js';

/**
 * Where a registry client's requests may go. Every path segment is percent-encoded, so a name
 * can never become a path (`../`), a query (`?`) or another host (`//host`); and stored
 * credentials go only to the registry's host or a token realm host the user allowed.
 */

function invalidSegment(what: string, value: string): PalisadeError {
  return new PalisadeError(`registry.request.invalid_${what}`, `refused a registry request for ${what} ${JSON.stringify(value.slice(0, 80))}${value.length > 80 ? ` (${value.length} characters)` : ''}`, {
    field: what,
    hint: 'repository path components, tags and digests are plain names without /, ?, # or dot segments',
  });
}

/**
 * One URL path segment after the repository (a tag or digest): never empty, `.` or `..`, and
 * every character that could end the segment or the path (`/ ? # %` …) percent-encoded. `:` and
 * `@` stay as they are (RFC 3986 pchar): `sha256:…` is how registries and their proxies expect a digest.
 */
export function encodePathSegment(value: string, what: string): string {
  if (value === '' || value === '.' || value === '..' || value.length > 512) throw invalidSegment(what, value);
  return encodeURIComponent(value).replace(/%3A/g, ':').replace(/%40/g, '@');
}

/** `team/app` → each component encoded on its own; the separating `/` stay. */
export function encodeRepositoryPath(repository: string): string {
  if (repository.length > 255) throw invalidSegment('repository', repository);
  return repository.split('/').map((part) => {
    if (part === '' || part === '.' || part === '..') throw invalidSegment('repository', repository);
    return encodeURIComponent(part);
  }).join('/');
}

/** Token services that belong to a registry on another host, which `docker login` credentials are meant for. */
const KNOWN_TOKEN_HOSTS: Record<string, string[]> = {
  'registry-1.docker.io': ['auth.docker.io'],
};

/** `auth.example.com`, `auth.example.com:5001` or `https://auth.example.com/token`: the host name is what is allowed. */
function allowedHostname(entry: string): string | undefined {
  try {
    return new URL(entry.includes('://') ? entry : `https://${entry.trim()}`).hostname;
  } catch {
    return undefined;
  }
}

/**
 * May these credentials be sent (as Basic auth) to this token realm? Yes for the registry's own
 * host name (a token service beside it, on any port), for a known token host of a public registry,
 * and for the realm hosts the user allowed with the credentials (`tokenRealms`). No for anything else.
 */
export function mayReceiveCredentials(realm: URL, registry: URL, credentials: RegistryCredentials): boolean {
  if (realm.hostname === registry.hostname) return true;
  if ((KNOWN_TOKEN_HOSTS[registry.hostname] ?? []).includes(realm.hostname)) return true;
  return (credentials.tokenRealms ?? []).some((entry) => allowedHostname(entry) === realm.hostname);
}
