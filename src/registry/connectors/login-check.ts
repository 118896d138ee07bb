import { PalisadeError } from '../../core/index.js';
import { configuredUrl } from './outbound.js';
import { googleTokenEndpoint, isJsonKeyLogin, parseServiceAccountKey } from './google-login.js';

/** Kinds whose login may be exchanged at an identity provider the user names (`authority`). */
const AUTHORITY_KINDS = new Set(['acr', 'artifact-registry']);

/**
 * Checks a login when a registry is connected, so a mistake is a 400 naming the field then rather
 * than a failed scan later: the authority's URL (HTTPS; its host is the only one besides the
 * registry's that receives the credentials), and a Google service-account key's shape and token endpoint.
 */
export function checkRegistryLogin(kind: string, login: { username: string; password: string; authority?: string }): { username: string; password: string; authority?: string } {
  if (login.authority !== undefined) {
    if (!AUTHORITY_KINDS.has(kind)) throw new PalisadeError('registry.authority', `an authority is only used by acr and artifact-registry registries, not ${kind}`, { field: 'authority' });
    const url = configuredUrl(login.authority, 'authority');
    if (kind === 'acr' && url.pathname.replace(/\/+$/, '') === '') {
      throw new PalisadeError('registry.authority', 'an Azure AD authority names the tenant: https://login.microsoftonline.com/TENANT_ID', { field: 'authority' });
    }
  }
  if (kind === 'artifact-registry' && isJsonKeyLogin(login.username)) googleTokenEndpoint(parseServiceAccountKey(login.username, login.password), login.authority);
  return login;
}
