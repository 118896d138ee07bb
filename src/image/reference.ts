import { PalisadeError } from '../core/index.js';

/**
 * Image references and transports, spelled the way docker and skopeo spell them:
 * `nginx`, `ghcr.io/org/app:1.2`, `localhost:5000/app@sha256:…`, `docker://REF`,
 * `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:NAME:TAG]`.
 * Normalisation follows distribution/reference (Docker Hub short names get `docker.io/library/`).
 */

export interface ImageReference {
  /** Registry host[:port] as written (`docker.io` for Docker Hub). */
  registry: string;
  /** Repository path (`library/nginx`). */
  repository: string;
  tag?: string;
  digest?: string;
}

export type ImageSourceSpec =
  | { transport: 'registry'; reference: ImageReference }
  | { transport: 'oci'; path: string; tag?: string }
  | { transport: 'oci-archive'; path: string; tag?: string }
  | { transport: 'docker-archive'; path: string; name?: string };

export const DOCKER_HUB = 'docker.io';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;

function invalid(ref: string, why: string): PalisadeError {
  return new PalisadeError('image.reference.invalid', `invalid image reference "${ref}": ${why}`, {
    field: 'image',
    hint: 'use NAME[:TAG][@DIGEST], e.g. nginx:1.27, ghcr.io/org/app@sha256:…, or oci:DIR:TAG, oci-archive:FILE, docker-archive:FILE',
  });
}

export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}

/** One `/`-separated component of a repository path (distribution/reference grammar). */
export function isPathComponent(value: string): boolean {
  return COMPONENT.test(value);
}

export function isTag(value: string): boolean {
  return TAG.test(value);
}

/** Pulling a reference: `latest` when it names neither tag nor digest; throws on anything else than a reference. */
export function parseReference(input: string): ImageReference {
  const ref = readReference(input);
  if (typeof ref === 'string') throw invalid(input, ref);
  return ref.tag || ref.digest ? ref : { ...ref, tag: 'latest' };
}

/**
 * Judging a reference as a manifest writes it (policies): the same grammar and normalisation, but
 * no `latest` filled in (a missing tag is itself what a policy reports) and undefined, not an
 * error, for a string that is no reference (the kubelet would refuse it as InvalidImageName).
 */
export function parseWrittenReference(input: string): ImageReference | undefined {
  const ref = readReference(input);
  return typeof ref === 'string' ? undefined : ref;
}

/** The reference as written, or why it is not one. */
function readReference(input: string): ImageReference | string {
  const ref = input.trim();
  if (!ref) return 'empty';
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return `bad digest "${digest}"`;
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return `bad tag "${tag}"`;
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    registry = first;
    parts.shift();
    if (!HOST.test(registry)) return `bad registry host "${registry}"`;
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) return 'repository names are lowercase letters, digits and separators (. _ __ -)';
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) return 'repository name longer than 255 characters';
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The host the API is served from: Docker Hub's API does not live at docker.io. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

/** Splits `TRANSPORT:REST` the way skopeo does; anything without a known transport is a registry reference. */
export function parseImageSource(input: string): ImageSourceSpec {
  const colon = input.indexOf(':');
  const transport = colon > 0 ? input.slice(0, colon) : '';
  const rest = input.slice(colon + 1);
  switch (transport) {
    case 'docker': {
      if (!rest.startsWith('//')) throw invalid(input, 'the docker transport is written docker://REF');
      return { transport: 'registry', reference: parseReference(rest.slice(2)) };
    }
    case 'oci':
    case 'oci-archive': {
      const [path, tag] = splitPath(rest);
      if (!path) throw invalid(input, `${transport}: needs a path`);
      return { transport, path, ...(tag ? { tag } : {}) };
    }
    case 'docker-archive': {
      const [path, name] = splitPath(rest);
      if (!path) throw invalid(input, 'docker-archive: needs a file');
      return { transport, path, ...(name ? { name } : {}) };
    }
    default:
      return { transport: 'registry', reference: parseReference(input) };
  }
}

function splitPath(rest: string): [string, string | undefined] {
  const i = rest.indexOf(':');
  if (i < 0) return [rest, undefined];
  return [rest.slice(0, i), rest.slice(i + 1) || undefined];
}
