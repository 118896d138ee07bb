import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { PalisadeError, systemClock, type Clock } from '../../core/index.js';
import { configuredUrl, postTokenForm, tokenField } from './outbound.js';

/**
 * Artifact Registry and Container Registry with a service-account JSON key: Google's OAuth 2.0
 * JWT bearer grant (RFC 7523) signs an assertion with the key and exchanges it for a one-hour access
 * token, used as the password of user `oauth2accesstoken` on the registry (Google's documented
 * access-token login). The JWT is signed here with node:crypto: google-auth-library (11.x, the
 * version the package index offers) requires Node 22, and this project runs on Node 20.
 *
 * Where the assertion goes: the token endpoint the user configured as the registry's `authority`,
 * or Google's `https://oauth2.googleapis.com/token` when none is configured. The key's own
 * `token_uri` is never followed: a key naming any other endpoint is refused when the registry is
 * connected, so a doctored key file cannot send a signed assertion to a host the user did not choose.
 */

export const GOOGLE_TOKEN_ENDPOINT = 'https://oauth2.googleapis.com/token';
const GOOGLE_CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** Google's user names for a key given as the password (`docker login -u _json_key`). */
const JSON_KEY_USERNAMES = ['_json_key', '_json_key_base64'] as const;
/** The user name the registry accepts with an OAuth access token as password. */
const ACCESS_TOKEN_USERNAME = 'oauth2accesstoken';

export interface ServiceAccountKey {
  clientEmail: string;
  privateKey: KeyObject;
  privateKeyId?: string;
  tokenUri?: string;
}

export function isJsonKeyLogin(username: string): boolean {
  return (JSON_KEY_USERNAMES as readonly string[]).includes(username);
}

/** The key from the password (`_json_key`: the JSON; `_json_key_base64`: its base64), refused naming the field. */
export function parseServiceAccountKey(username: string, password: string): ServiceAccountKey {
  const text = username === '_json_key_base64' ? Buffer.from(password, 'base64').toString('utf8') : password;
  let doc: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    doc = parsed as Record<string, unknown>;
  } catch {
    throw keyError('password', 'is not a service-account JSON key');
  }
  if (doc.type !== undefined && doc.type !== 'service_account') throw keyError('password.type', `is '${String(doc.type).slice(0, 40)}', not service_account`);
  if (typeof doc.client_email !== 'string' || !doc.client_email.includes('@')) throw keyError('password.client_email', 'must be the service account\'s e-mail address');
  if (typeof doc.private_key !== 'string') throw keyError('password.private_key', 'must be a PEM private key');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(doc.private_key);
  } catch {
    throw keyError('password.private_key', 'is not a readable PEM private key');
  }
  if (privateKey.asymmetricKeyType !== 'rsa') throw keyError('password.private_key', 'must be an RSA key (RS256)');
  return {
    clientEmail: doc.client_email,
    privateKey,
    ...(typeof doc.private_key_id === 'string' ? { privateKeyId: doc.private_key_id } : {}),
    ...(typeof doc.token_uri === 'string' ? { tokenUri: doc.token_uri } : {}),
  };
}

/** The endpoint the assertion is sent to (see the module comment); a key naming another one is refused. */
export function googleTokenEndpoint(key: ServiceAccountKey, authority: string | undefined): URL {
  const endpoint = configuredUrl(authority ?? GOOGLE_TOKEN_ENDPOINT, 'authority');
  if (key.tokenUri !== undefined && key.tokenUri !== endpoint.href) {
    throw keyError('password.token_uri', `names ${key.tokenUri.slice(0, 120)}, but this registry's token endpoint is ${endpoint.href}`,
      'Palisade sends the signed assertion only to the configured authority (default https://oauth2.googleapis.com/token); set the authority to the key\'s token_uri if you trust that host');
  }
  return endpoint;
}

/** A signed JWT bearer assertion: issued by the service account, for the token endpoint, valid one hour. */
function signAssertion(key: ServiceAccountKey, endpoint: URL, now: Date, scope = GOOGLE_CLOUD_PLATFORM_SCOPE): string {
  const iat = Math.floor(now.getTime() / 1000);
  const header = { alg: 'RS256', typ: 'JWT', ...(key.privateKeyId ? { kid: key.privateKeyId } : {}) };
  const claims = { iss: key.clientEmail, scope, aud: endpoint.href, iat, exp: iat + 3600 };
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  return `${input}.${sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
}

/** The key exchanged for an access token (grant `urn:ietf:params:oauth:grant-type:jwt-bearer`). */
async function googleAccessToken(key: ServiceAccountKey, endpoint: URL, options: { fetch?: typeof fetch; clock?: Clock } = {}): Promise<{ accessToken: string; expiresInSeconds: number }> {
  const assertion = signAssertion(key, endpoint, (options.clock ?? systemClock).now());
  const body = await postTokenForm(endpoint, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }, `Google service account token from ${endpoint.host}`, options.fetch);
  const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in);
  return { accessToken: tokenField(body, 'access_token', `Google service account token from ${endpoint.host}`), expiresInSeconds: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600 };
}

/** The registry login for a JSON key: `oauth2accesstoken` and a fresh access token, kept until 5 minutes before it expires. */
export async function googleRegistryLogin(login: { username: string; password: string; authority?: string }, options: { fetch?: typeof fetch; clock?: Clock } = {}): Promise<{ username: string; password: string; validForMs: number }> {
  const key = parseServiceAccountKey(login.username, login.password);
  const token = await googleAccessToken(key, googleTokenEndpoint(key, login.authority), options);
  return { username: ACCESS_TOKEN_USERNAME, password: token.accessToken, validForMs: Math.max(60_000, (token.expiresInSeconds - 300) * 1000) };
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function keyError(field: string, problem: string, hint = 'give the service account\'s JSON key as the password, with username _json_key'): PalisadeError {
  return new PalisadeError('registry.google_key', `service-account key: ${field} ${problem}`, { field, hint });
}
