import { PalisadeError, systemClock, type Clock } from '../../core/index.js';
import { openCredentials } from '../credentials.js';
import { acrBearerFetch, acrServicePrincipalLogin } from './acr-login.js';
import { googleRegistryLogin, isJsonKeyLogin } from './google-login.js';

/**
 * How Palisade reaches a connected registry's Distribution API: host, TLS, the login a registry
 * client sends, and a fetch that adds what the kind needs on top (a path prefix for Artifactory and
 * Nexus, ACR access tokens per scope). Cloud logins (ACR service principal, Google service-account
 * key) are exchanged here for short-lived registry logins, kept in memory until shortly before they
 * expire. Outbound requests go to the registry's origin and the authority the user configured only.
 */
export interface RegistryAccess {
  /** `HOST[:PORT]` for the registry client. */
  host: string;
  insecure: boolean;
  credentials?: { username: string; password: string; tokenRealms?: string[] };
  fetch?: typeof fetch;
}

export interface RegistryTarget {
  name: string;
  kind: string;
  url: string;
  credentials: string | null;
}

export interface AccessOptions {
  secretKey: string | undefined;
  /** Replaces fetch for every outbound request (tests). */
  fetch?: typeof fetch;
  clock?: Clock;
}

/** Exchanged logins by registry and sealed credentials; bounded, oldest dropped first. */
const exchanged = new Map<string, { login: { username: string; password: string }; until: number }>();
const MAX_EXCHANGED = 256;

export async function registryAccess(registry: RegistryTarget, options: AccessOptions): Promise<RegistryAccess> {
  const url = new URL(registry.url);
  const login = registry.credentials ? openCredentials(options.secretKey, registry.credentials) : undefined;
  const base = options.fetch ?? globalThis.fetch;
  let credentials: RegistryAccess['credentials'] = login ? { username: login.username, password: login.password, ...(login.tokenRealms ? { tokenRealms: login.tokenRealms } : {}) } : undefined;
  let wrapped: typeof fetch | undefined;
  const prefix = apiPrefix(url);
  if (prefix) wrapped = prefixedFetch(url.origin, prefix, base);
  if (login && registry.kind === 'acr' && login.authority) {
    const acr = await exchangedLogin(registry, options, () => acrServicePrincipalLogin(url.origin, { clientId: login.username, clientSecret: login.password, authority: login.authority! }, base));
    credentials = acr;
    wrapped = acrBearerFetch(url.origin, acr.password, wrapped ?? base);
  } else if (login && registry.kind === 'artifact-registry' && isJsonKeyLogin(login.username)) {
    credentials = await exchangedLogin(registry, options, () => googleRegistryLogin(login, { fetch: base, ...(options.clock ? { clock: options.clock } : {}) }));
  }
  return { host: url.host, insecure: url.protocol === 'http:', ...(credentials ? { credentials } : {}), ...(wrapped ? { fetch: wrapped } : (options.fetch ? { fetch: options.fetch } : {})) };
}

/** What a registry client or openImage takes from an access. */
export function clientOptions(access: RegistryAccess): { insecure?: boolean; credentials?: RegistryAccess['credentials']; fetch?: typeof fetch } {
  return { ...(access.insecure ? { insecure: true } : {}), ...(access.credentials ? { credentials: access.credentials } : {}), ...(access.fetch ? { fetch: access.fetch } : {}) };
}

/** Forgets exchanged logins (tests; a registry's credentials replaced). */
export function forgetExchangedLogins(): void {
  exchanged.clear();
}

async function exchangedLogin(registry: RegistryTarget, options: AccessOptions, exchange: () => Promise<{ username: string; password: string; validForMs: number }>): Promise<{ username: string; password: string }> {
  const now = (options.clock ?? systemClock).now().getTime();
  const key = `${registry.name}\u0000${registry.credentials}`;
  const cached = exchanged.get(key);
  if (cached && cached.until > now) return cached.login;
  const fresh = await exchange();
  exchanged.delete(key);
  if (exchanged.size >= MAX_EXCHANGED) exchanged.delete(exchanged.keys().next().value!);
  exchanged.set(key, { login: { username: fresh.username, password: fresh.password }, until: now + fresh.validForMs });
  return { username: fresh.username, password: fresh.password };
}

/** The path before `/v2/` (Artifactory's `/artifactory/api/docker/REPO`, Nexus' `/repository/NAME`); '' at the root. */
function apiPrefix(url: URL): string {
  return url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
}

/** Rewrites the registry client's `/v2/…` requests on the registry's origin to `PREFIX/v2/…`. */
function prefixedFetch(origin: string, prefix: string, fetchImpl: typeof fetch): typeof fetch {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin === origin && (url.pathname === '/v2/' || url.pathname.startsWith('/v2/'))) {
      url.pathname = `${prefix}${url.pathname}`;
      return fetchImpl(url, init);
    }
    return fetchImpl(input, init);
  };
}

const PATH_FORMS: Record<string, { pattern: RegExp; example: string }> = {
  artifactory: { pattern: /^\/artifactory\/api\/docker\/[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, example: 'https://acme.jfrog.io/artifactory/api/docker/docker-local (or the host of the repository path, subdomain or port method)' },
  nexus: { pattern: /^\/repository\/[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/, example: 'https://nexus.example.com/repository/docker-hosted (or the repository connector\'s https://nexus.example.com:8083)' },
};

/**
 * The URL a registry is stored with: its origin, plus, for Artifactory and Nexus, the path of the
 * repository's Docker API (the registry API is then at PATH/v2/). Other kinds take no path.
 */
export function registryBaseUrl(kind: string, url: URL): string {
  const path = apiPrefix(url);
  const form = PATH_FORMS[kind];
  if (!path) return url.origin;
  if (!form) return url.origin; // a path on other kinds was always ignored (the API is at /v2/)
  if (!form.pattern.test(path) || url.search || url.hash) {
    throw new PalisadeError('registry.url', `a ${kind} registry URL's path must be its Docker API path, not '${path.slice(0, 80)}'`, { field: 'url', hint: `for example ${form.example}` });
  }
  return `${url.origin}${path}`;
}
