import { PalisadeError } from '../../core/index.js';
import { parseAcrWebhook } from './acr.js';
import { parseDistributionEnvelope } from './distribution.js';
import { parseDockerHubWebhook } from './dockerhub.js';
import { parseHarborWebhook } from './harbor.js';
import { parseArtifactRegistryPush } from './artifact-registry.js';
import { parseEcrEvent } from './ecr.js';
import { parseGhcrWebhook } from './ghcr.js';
import { parseQuayWebhook } from './quay.js';
import { parseArtifactoryWebhook } from './artifactory.js';
import { parseNexusWebhook } from './nexus.js';
import type { WebhookContext, WebhookResult } from './webhook.js';

export const REGISTRY_KINDS = ['distribution', 'harbor', 'acr', 'dockerhub', 'generic', 'ecr', 'ghcr', 'quay', 'artifact-registry', 'artifactory', 'nexus'] as const;
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

type WebhookParser = (body: unknown, context: WebhookContext) => WebhookResult;

/** One parser a kind; a Record so adding a kind without its parser fails to compile. */
const WEBHOOK_PARSERS: Record<RegistryKind, WebhookParser> = {
  distribution: parseDistributionEnvelope,
  generic: parseDistributionEnvelope,
  harbor: parseHarborWebhook,
  acr: parseAcrWebhook,
  dockerhub: parseDockerHubWebhook,
  ecr: parseEcrEvent,
  ghcr: parseGhcrWebhook,
  quay: (body, context) => parseQuayWebhook(body, context.receivedAt),
  'artifact-registry': parseArtifactRegistryPush,
  artifactory: parseArtifactoryWebhook,
  nexus: parseNexusWebhook,
};

/** Turns a connector's webhook body into RegistryEvents; a malformed body throws a 400 naming the field. */
export function parseRegistryWebhook(kind: RegistryKind, body: unknown, context: WebhookContext = {}): WebhookResult {
  return WEBHOOK_PARSERS[kind](body, context);
}

export { parseDistributionEnvelope, parseDistributionEvent } from './distribution.js';
export { parseAcrWebhook } from './acr.js';
export { parseHarborWebhook } from './harbor.js';
export { parseDockerHubWebhook } from './dockerhub.js';
export { parseEcrEvent } from './ecr.js';
export { parseGhcrWebhook } from './ghcr.js';
export { parseQuayWebhook } from './quay.js';
export { parseArtifactRegistryPush } from './artifact-registry.js';
export { parseArtifactoryWebhook } from './artifactory.js';
export { parseNexusWebhook, verifyNexusSignature } from './nexus.js';
export type { WebhookContext, WebhookResult } from './webhook.js';
export { cloudWebhookSnippet } from './snippets.js';
export { registryAccess, clientOptions, registryBaseUrl, forgetExchangedLogins, type RegistryAccess } from './access.js';
export { checkRegistryLogin } from './login-check.js';
export { storeWebhookSecret, webhookSecretOf, newWebhookSecret } from './webhook-secrets.js';
export { ecrLocation, ecrPullLogin, renewEcrLogins, ecrLoginJob, ECR_LOGIN_QUEUE, ECR_RENEW_BEFORE_MS } from './ecr-login.js';
export { MAX_WEBHOOK_BYTES, MAX_WEBHOOK_EVENTS, tooManyEvents } from './payload.js';
export { isRepositoryName, isTag, isManifestDigest, MAX_REPOSITORY_LENGTH } from './names.js';
