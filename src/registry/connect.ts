import { PalisadeError, SCOPE_NAME, SCOPE_NAME_HINT, yamlLibrary, type Clock } from '../core/index.js';
import { createToken, insertRegistry, recordAction, type RegistryRecord, type Store } from '../store/index.js';
import { checkRegistryLogin, cloudWebhookSnippet, newWebhookSecret, registryBaseUrl, storeWebhookSecret, type RegistryKind } from './connectors/index.js';
import { sealCredentials, type RegistryLogin } from './credentials.js';
import { storePollRepositories } from './poll.js';

export interface RegistryConnection {
  registry: Omit<RegistryRecord, 'credentials'>;
  /** The registry's ingest token, shown once. */
  token: string;
  webhookUrl: string;
  /** What to paste into the registry's configuration. */
  snippet: string;
}


/** Connects a registry: stores it (credentials sealed), makes its ingest token, and writes its webhook set-up. */
export async function connectRegistry(store: Store, input: { name: string; url: string; kind: RegistryKind; login?: RegistryLogin; tokenRealms?: string[]; authority?: string; repositories?: string[]; webhookSecret?: string; poll?: boolean; secretKey?: string; publicUrl?: string; actor: string; clock: Clock }): Promise<RegistryConnection> {
  if (!SCOPE_NAME.test(input.name)) throw new PalisadeError('registry.name', `invalid registry name '${input.name}'`, { field: 'name', hint: SCOPE_NAME_HINT });
  let url: URL;
  try {
    url = new URL(input.url.includes('://') ? input.url : `https://${input.url}`);
  } catch {
    throw new PalisadeError('registry.url', `invalid registry URL '${input.url}'`, { field: 'url', hint: 'for example https://registry.example.com or http://127.0.0.1:5000' });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new PalisadeError('registry.url', `registry URL must be http or https (got ${url.protocol})`, { field: 'url' });
  const at = input.clock.now();
  // Allowed token realm hosts travel sealed with the credentials they are for.
  if (input.tokenRealms?.length && !input.login) {
    throw new PalisadeError('registry.token_realms', 'tokenRealms say where the registry\'s credentials may be sent: give a username and password too', { field: 'tokenRealms' });
  }
  if (input.authority && !input.login) {
    throw new PalisadeError('registry.authority', 'an authority is where the registry\'s credentials are exchanged: give a username and password too', { field: 'authority' });
  }
  const realms = input.login && input.tokenRealms?.length ? { ...input.login, tokenRealms: input.tokenRealms.map(tokenRealmHost) } : input.login;
  const login = realms && input.authority ? checkRegistryLogin(input.kind, { ...realms, authority: input.authority }) : realms && checkRegistryLogin(input.kind, realms);
  const credentials = login ? sealCredentials(input.secretKey, login) : null;
  if (input.webhookSecret !== undefined && input.kind !== 'nexus') throw new PalisadeError('registry.webhook_secret', `a webhook secret is only used by nexus registries, not ${input.kind}`, { field: 'webhookSecret' });
  const webhookSecret = input.kind === 'nexus' ? (input.webhookSecret ?? newWebhookSecret()) : undefined;
  const { record, token } = await store.db.transaction().execute(async (tx) => {
    const record = await insertRegistry(tx, { name: input.name, url: registryBaseUrl(input.kind, url), kind: input.kind, credentials, poll: input.poll ?? false, at });
    if (input.repositories?.length) await storePollRepositories(tx, input.name, input.repositories);
    if (webhookSecret) await storeWebhookSecret(tx, input.name, webhookSecret, input.secretKey);
    const token = await createToken(tx, `registry:${input.name}`, `${input.name} webhook`, input.clock);
    await recordAction(tx, { actor: input.actor, action: 'registry.add', target: `registry:${input.name}`, details: { url: url.origin, kind: input.kind }, at });
    return { record, token };
  });
  const base = (input.publicUrl ?? 'https://PALISADE_HOST').replace(/\/$/, '');
  const webhookUrl = `${base}/ingest/registry/${input.name}`;
  const { credentials: _sealed, ...registry } = record;
  return { registry, token: token.secret, webhookUrl, snippet: webhookSnippet(input.kind, webhookUrl, token.secret, webhookSecret) };
}

/** A token realm host as the user wrote it (`auth.example.com` or its URL) → its host name; anything else is refused. */
function tokenRealmHost(entry: string): string {
  let url: URL | undefined;
  try {
    url = new URL(entry.includes('://') ? entry : `https://${entry}`);
  } catch {
    url = undefined;
  }
  if (!url || !url.hostname || url.username || url.password) {
    throw new PalisadeError('registry.token_realms', `invalid token realm host '${entry.slice(0, 80)}'`, { field: 'tokenRealms', hint: 'a host name such as auth.example.com, or the realm URL https://auth.example.com/token' });
  }
  return url.hostname;
}

/** The exact configuration each registry needs to call Palisade. */
export function webhookSnippet(kind: RegistryKind, webhookUrl: string, token: string, webhookSecret?: string): string {
  switch (kind) {
    case 'distribution':
    case 'generic':
      return `# docker-registry / CNCF Distribution config.yml\n${yamlLibrary().stringify({
        notifications: { endpoints: [{ name: 'palisade', url: webhookUrl, headers: { Authorization: [`Bearer ${token}`] }, timeout: '5s', threshold: 5, backoff: '10s', ignoredmediatypes: ['application/octet-stream'] }] },
      })}`;
    case 'harbor':
      return [
        '# Harbor: Project → Webhooks → New webhook',
        `Notify type: http`,
        `Event types: Artifact pushed, Artifact pulled, Artifact deleted`,
        `Endpoint URL: ${webhookUrl}`,
        `Auth header: Bearer ${token}`,
        `Payload format: Default`,
      ].join('\n');
    case 'acr':
      return [
        '# Azure Container Registry',
        `az acr webhook create --registry REGISTRY --name palisade --actions push delete quarantine \\`,
        `  --uri ${webhookUrl} --headers "Authorization=Bearer ${token}"`,
        '# or through Event Grid (the subscription validation handshake is answered automatically)',
        `az eventgrid event-subscription create --name palisade --source-resource-id REGISTRY_RESOURCE_ID \\`,
        `  --endpoint '${webhookUrl}?token=${token}' --included-event-types Microsoft.ContainerRegistry.ImagePushed Microsoft.ContainerRegistry.ImageDeleted`,
      ].join('\n');
    case 'dockerhub':
      return [
        '# Docker Hub: Repository → Webhooks (Docker Hub sends no custom headers: the token travels in the URL)',
        `Webhook URL: ${webhookUrl}?token=${token}`,
      ].join('\n');
    default:
      return cloudWebhookSnippet(kind, webhookUrl, token, webhookSecret);
  }
}
