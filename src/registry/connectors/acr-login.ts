import { PalisadeError } from '../../core/index.js';
import { configuredUrl, postTokenForm, tokenField } from './outbound.js';

/**
 * Azure Container Registry with an Azure AD (Entra ID) service principal, the flow of Azure/acr
 * docs/AAD-OAuth.md and of the Azure SDK's ContainerRegistryClient:
 * 1. client credentials at the authority the user configured (`https://login.microsoftonline.com/TENANT`)
 *    → an AAD access token;
 * 2. `POST https://REGISTRY/oauth2/exchange` with `grant_type=access_token` → an ACR refresh token;
 * 3. `POST https://REGISTRY/oauth2/token` with `grant_type=refresh_token` and a scope → an ACR access
 *    token for that scope (`repository:NAME:pull`, `registry:catalog:*`).
 * Requests go to the configured authority and to the registry's own origin, nowhere else.
 */

/** The user name that tells ACR the password is one of its refresh tokens (AAD-OAuth.md). */
export const ACR_REFRESH_TOKEN_USERNAME = '00000000-0000-0000-0000-000000000000';

/** What the Azure SDK asks AAD for before the exchange: an Azure Resource Manager token. */
const AAD_RESOURCE_MANAGER_SCOPE = 'https://management.core.windows.net/.default';

interface ServicePrincipal {
  clientId: string;
  clientSecret: string;
  /** `https://login.microsoftonline.com/TENANT_ID` (or a sovereign cloud's, or a loopback stand-in). */
  authority: string;
}

/** Step 1: the service principal's AAD access token (client credentials, OAuth 2.0 v2 endpoint). */
async function aadAccessToken(principal: ServicePrincipal, fetchImpl?: typeof fetch): Promise<{ accessToken: string; expiresInSeconds: number }> {
  const authority = configuredUrl(principal.authority, 'authority');
  const url = new URL(`${authority.pathname.replace(/\/+$/, '')}/oauth2/v2.0/token`, authority.origin);
  const body = await postTokenForm(url, {
    response_type: 'token',
    grant_type: 'client_credentials',
    client_id: principal.clientId,
    client_secret: principal.clientSecret,
    scope: AAD_RESOURCE_MANAGER_SCOPE,
  }, 'Azure AD client credentials', fetchImpl);
  const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in);
  return { accessToken: tokenField(body, 'access_token', 'Azure AD client credentials'), expiresInSeconds: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600 };
}

/** Step 2: the AAD access token exchanged for an ACR refresh token at the registry. */
async function acrRefreshToken(registry: URL, aadToken: string, fetchImpl?: typeof fetch): Promise<string> {
  const body = await postTokenForm(new URL('/oauth2/exchange', registry.origin), { grant_type: 'access_token', service: registry.host, access_token: aadToken }, `ACR token exchange at ${registry.host}`, fetchImpl);
  return tokenField(body, 'refresh_token', `ACR token exchange at ${registry.host}`);
}

/** Step 3: an ACR access token for one scope. */
async function acrAccessToken(registry: URL, refreshToken: string, scope: string, fetchImpl?: typeof fetch): Promise<string> {
  const body = await postTokenForm(new URL('/oauth2/token', registry.origin), { grant_type: 'refresh_token', service: registry.host, refresh_token: refreshToken, scope }, `ACR access token at ${registry.host}`, fetchImpl);
  return tokenField(body, 'access_token', `ACR access token at ${registry.host}`);
}

/**
 * Steps 1 and 2: the login a registry client uses (null GUID + ACR refresh token, which ACR's own
 * token endpoint also accepts as basic credentials), and when to make a new one: ACR refresh tokens
 * last about three hours; one is kept at most an hour, and never past the AAD token's life.
 */
export async function acrServicePrincipalLogin(registryUrl: string, principal: ServicePrincipal, fetchImpl?: typeof fetch): Promise<{ username: string; password: string; validForMs: number }> {
  const registry = new URL(registryUrl);
  const aad = await aadAccessToken(principal, fetchImpl);
  const refreshToken = await acrRefreshToken(registry, aad.accessToken, fetchImpl);
  return { username: ACR_REFRESH_TOKEN_USERNAME, password: refreshToken, validForMs: Math.min(3_600_000, Math.max(60_000, (aad.expiresInSeconds - 300) * 1000)) };
}

/**
 * A fetch for the registry client that authorizes each registry API request with an ACR access token
 * for the scope it needs (step 3), fetched once per scope. Requests to other origins (blob storage a
 * download is redirected to) go out untouched. When a token is refused (expired), it is forgotten and
 * the client's own challenge answers with the refresh token.
 */
export function acrBearerFetch(registryUrl: string, refreshToken: string, fetchImpl: typeof fetch = globalThis.fetch): typeof fetch {
  const registry = new URL(registryUrl);
  const tokens = new Map<string, Promise<string>>();
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(init?.headers);
    const scope = url.origin === registry.origin && !headers.has('authorization') ? scopeOf(url.pathname) : undefined;
    if (!scope) return fetchImpl(input, init);
    let token = tokens.get(scope);
    if (!token) {
      token = acrAccessToken(registry, refreshToken, scope, fetchImpl);
      tokens.set(scope, token);
      token.catch(() => tokens.delete(scope));
    }
    headers.set('authorization', `Bearer ${await token}`);
    const response = await fetchImpl(input, { ...init, headers });
    if (response.status === 401) tokens.delete(scope);
    return response;
  };
}

/** The token scope a registry API path needs: the catalog, or pulling one repository. */
function scopeOf(pathname: string): string | undefined {
  if (!pathname.startsWith('/v2/')) return undefined;
  const rest = pathname.slice(4);
  if (rest.startsWith('_catalog')) return 'registry:catalog:*';
  const match = /^(.+?)\/(manifests|blobs|tags)\//.exec(rest);
  if (!match) return undefined;
  try {
    return `repository:${match[1]!.split('/').map(decodeURIComponent).join('/')}:pull`;
  } catch {
    throw new PalisadeError('registry.request.foreign', `refused a registry path that is not encoded (${pathname.slice(0, 80)})`, { kind: 'invalid' });
  }
}
