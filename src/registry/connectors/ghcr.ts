import type { RegistryEvent } from '../events.js';
import { dateAt, malformed, objectAt, optionalString, optionalTagAt, repositoryAt, stringAt } from './payload.js';
import { isManifestDigest } from './names.js';

const KIND = 'ghcr';

/**
 * GitHub Container Registry: the organisation's or repository's webhook with the `package` (or the
 * older `registry_package`) event. A container version is named by its manifest digest
 * (`package_version.version`); its tag, when the push had one, is in `container_metadata.tag.name`.
 * Other package types (npm, Maven …), other actions and GitHub's `ping` are ignored. GitHub sends no
 * custom headers: the token travels in the URL (`?token=`), as for Docker Hub.
 */
export function parseGhcrWebhook(body: unknown): { events: RegistryEvent[]; ignored: number } {
  const payload = objectAt(body, KIND, 'body');
  if ('zen' in payload && 'hook_id' in payload) return { events: [], ignored: 1 }; // ping
  const field = payload.package !== undefined ? 'package' : 'registry_package';
  const pkg = objectAt(payload[field], KIND, field);
  const action = stringAt(payload.action, KIND, 'action');
  if (!isContainer(pkg) || (action !== 'published' && action !== 'updated')) return { events: [], ignored: 1 };
  const owner = objectAt(pkg.owner, KIND, `${field}.owner`);
  // ghcr.io/OWNER/NAME; GitHub keeps the owner's and name's case, image references are lowercase.
  const repository = repositoryAt(`${stringAt(owner.login, KIND, `${field}.owner.login`)}/${stringAt(pkg.name, KIND, `${field}.name`)}`.toLowerCase(), KIND, `${field}.name`);
  const version = objectAt(pkg.package_version, KIND, `${field}.package_version`);
  const container = version.container_metadata === undefined ? {} : objectAt(version.container_metadata, KIND, `${field}.package_version.container_metadata`);
  const manifest = container.manifest === undefined ? {} : objectAt(container.manifest, KIND, `${field}.package_version.container_metadata.manifest`);
  const tag = container.tag === undefined ? {} : objectAt(container.tag, KIND, `${field}.package_version.container_metadata.tag`);
  const digest = [version.version, version.name, manifest.digest].find((v): v is string => typeof v === 'string' && isManifestDigest(v));
  if (!digest) throw malformed(KIND, `${field}.package_version.version`, 'must be the container version\'s manifest digest (sha256:…)');
  return {
    events: [{
      action: 'push',
      repository,
      digest,
      tag: optionalTagAt(tag.name, KIND, `${field}.package_version.container_metadata.tag.name`),
      actor: optionalString(objectAt(payload.sender ?? {}, KIND, 'sender').login),
      import: false,
      at: dateAt(pkg.updated_at ?? pkg.created_at, KIND, `${field}.updated_at`),
    }],
    ignored: 0,
  };
}

function isContainer(pkg: Record<string, unknown>): boolean {
  const registry = typeof pkg.registry === 'object' && pkg.registry !== null ? (pkg.registry as { type?: unknown }).type : undefined;
  return registry === 'CONTAINER' || [pkg.package_type, pkg.ecosystem].some((t) => typeof t === 'string' && /^(container|docker)$/i.test(t));
}
