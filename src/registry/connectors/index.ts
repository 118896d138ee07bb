import { PalisadeError } from '../../core/index.js';
import type { RegistryEvent } from '../events.js';
import { parseAcrWebhook } from './acr.js';
import { parseDistributionEnvelope } from './distribution.js';
import { parseDockerHubWebhook } from './dockerhub.js';
import { parseHarborWebhook } from './harbor.js';
import { parseArtifactRegistryPush } from './artifact-registry.js';
import { parseEcrEvent } from './ecr.js';
import { parseGhcrWebhook } from './ghcr.js';
import { parseQuayWebhook } from './quay.js';

export const REGISTRY_KINDS = ['distribution', 'harbor', 'acr', 'dockerhub', 'generic', 'ecr', 'ghcr', 'quay', 'artifact-registry'] as const;
export type RegistryKind = (typeof REGISTRY_KINDS)[number];

/**
 * Kinds whose webhooks report pulls (Distribution notifications, Harbor's PULL_ARTIFACT). ACR's
 * webhooks (push, delete, quarantine) and Docker Hub's (push) do not, nor does a polled registry:
 * their images' last pull comes from what clusters are seen running (rescan.ts).
 */
export const KINDS_WITH_PULL_EVENTS: ReadonlySet<RegistryKind> = new Set(['distribution', 'generic', 'harbor']);

export function parseRegistryKind(value: string): RegistryKind {
  if (!(REGISTRY_KINDS as readonly string[]).includes(value)) {
    throw new PalisadeError('registry.kind', `unknown registry kind '${value}'`, { field: 'kind', hint: `use one of ${REGISTRY_KINDS.join(', ')}` });
  }
  return value as RegistryKind;
}

type WebhookParser = (body: unknown) => { events: RegistryEvent[]; ignored: number };

/** One parser a kind; a Record so adding a kind without its parser fails to compile. */
const WEBHOOK_PARSERS: Record<RegistryKind, WebhookParser> = {
  distribution: parseDistributionEnvelope,
  generic: parseDistributionEnvelope,
  harbor: parseHarborWebhook,
  acr: parseAcrWebhook,
  dockerhub: parseDockerHubWebhook,
  ecr: parseEcrEvent,
  ghcr: parseGhcrWebhook,
  quay: parseQuayWebhook,
  'artifact-registry': parseArtifactRegistryPush,
};

/** Turns a connector's webhook body into RegistryEvents; a malformed body throws a 400 naming the field. */
export function parseRegistryWebhook(kind: RegistryKind, body: unknown): { events: RegistryEvent[]; ignored: number } {
  return WEBHOOK_PARSERS[kind](body);
}

export { parseDistributionEnvelope, parseDistributionEvent } from './distribution.js';
export { parseAcrWebhook } from './acr.js';
export { parseHarborWebhook } from './harbor.js';
export { parseDockerHubWebhook } from './dockerhub.js';
export { parseEcrEvent } from './ecr.js';
export { parseGhcrWebhook } from './ghcr.js';
export { parseQuayWebhook } from './quay.js';
export { parseArtifactRegistryPush } from './artifact-registry.js';
export { cloudWebhookSnippet } from './snippets.js';
export { ecrLocation, ecrPullLogin, renewEcrLogins, ecrLoginJob, ECR_LOGIN_QUEUE, ECR_RENEW_BEFORE_MS } from './ecr-login.js';
export { MAX_WEBHOOK_BYTES, MAX_WEBHOOK_EVENTS, tooManyEvents } from './payload.js';
export { isRepositoryName, isTag, isManifestDigest, MAX_REPOSITORY_LENGTH } from './names.js';
