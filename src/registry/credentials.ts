import { PalisadeError, seal, unseal } from '../core/index.js';

/** Registry credentials at rest: AES-256-GCM under a key derived from PALISADE_SECRET_KEY. */
export interface RegistryLogin {
  username: string;
  password: string;
  /** Token realm hosts besides the registry's own that may receive these credentials (a token service on another host). */
  tokenRealms?: string[];
  /**
   * The identity provider the login is exchanged at, as the user configured it: ACR's Azure AD
   * authority (`https://login.microsoftonline.com/TENANT`, the username and password being a service
   * principal's client id and secret), or the OAuth token endpoint for a Google service-account key.
   */
  authority?: string;
}

const VERSION = 'v1';
const PURPOSE = 'palisade:registry-credentials';

function keyOf(secretKey: string | undefined): string {
  if (!secretKey) {
    throw new PalisadeError('registry.secret_key', 'storing or using registry credentials needs PALISADE_SECRET_KEY', {
      field: 'secretKey',
      hint: 'set PALISADE_SECRET_KEY (32+ random characters) on the server and every worker',
    });
  }
  return secretKey;
}

export function sealCredentials(secretKey: string | undefined, login: RegistryLogin): string {
  return `${VERSION}:${seal(keyOf(secretKey), PURPOSE, JSON.stringify(login))}`;
}

export function openCredentials(secretKey: string | undefined, sealed: string): RegistryLogin {
  const [version, payload] = sealed.split(':', 2);
  if (version !== VERSION || !payload) throw new PalisadeError('registry.credentials', 'stored registry credentials are in an unknown format', { kind: 'internal' });
  const key = keyOf(secretKey);
  try {
    return JSON.parse(unseal(key, PURPOSE, payload)) as RegistryLogin;
  } catch {
    throw new PalisadeError('registry.credentials', 'cannot open stored registry credentials: PALISADE_SECRET_KEY differs from the key they were sealed with', {
      kind: 'unprocessable',
      hint: 'use the original PALISADE_SECRET_KEY, or add the registry again with its credentials',
    });
  }
}
