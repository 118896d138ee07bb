import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { PalisadeError } from '../../core/index.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, digestOf, verifyDigest } from '../oci.js';
import { apiHost } from '../reference.js';
import { digestVerifier, readAll } from '../sources/source.js';
import { basicAuthorization, parseChallenges, type RegistryCredentials } from './auth.js';

export interface RegistryClientOptions {
  /** Plain HTTP (loopback and private registries without TLS). */
  insecure?: boolean;
  credentials?: RegistryCredentials;
  fetch?: typeof fetch;
  userAgent?: string;
  /** Per-request timeout for headers, in ms. */
  timeoutMs?: number;
}

const MAX_REDIRECTS = 5;

/**
 * A client of the OCI distribution API (pull side) over fetch. Handles anonymous, basic and
 * bearer-token challenge auth (RFC 6750 flow used by Docker Hub, GHCR, ACR, Harbor and Distribution),
 * follows redirects itself so Authorization never leaves the registry's origin, and verifies
 * every manifest and blob against its digest.
 */
export class RegistryClient {
  private readonly base: URL;
  private readonly fetch: typeof fetch;
  private authorization: string | undefined;
  private readonly scope: string;

  constructor(
    readonly registry: string,
    readonly repository: string,
    private readonly options: RegistryClientOptions = {},
  ) {
    this.base = new URL(`${options.insecure ? 'http' : 'https'}://${apiHost(registry)}/v2/`);
    this.fetch = options.fetch ?? globalThis.fetch;
    this.scope = `repository:${repository}:pull`;
  }

  /** GET a manifest by tag or digest; the digest is verified against the content (and the server's Docker-Content-Digest). */
  async getManifest(reference: string): Promise<{ data: Buffer; mediaType?: string; digest: string }> {
    const response = await this.request(`${this.repository}/manifests/${reference}`, { accept: MANIFEST_ACCEPT }, `manifest ${reference}`);
    const data = await readAll(bodyOf(response), MAX_MANIFEST_BYTES, `manifest ${reference}`);
    const mediaType = response.headers.get('content-type') ?? undefined;
    const what = `${this.registry}/${this.repository}: manifest ${reference}`;
    if (reference.includes(':')) {
      verifyDigest(data, reference, what);
      return { data, mediaType, digest: reference };
    }
    const header = response.headers.get('docker-content-digest');
    const digest = header && /^sha512:/.test(header) ? header : digestOf(data);
    if (header) verifyDigest(data, header, what);
    return { data, mediaType, digest };
  }

  async getBlob(digest: string, maxBytes: number): Promise<Buffer> {
    const response = await this.request(`${this.repository}/blobs/${digest}`, {}, `blob ${digest}`);
    const data = await readAll(bodyOf(response), maxBytes, `blob ${digest}`);
    verifyDigest(data, digest, `${this.registry}/${this.repository}: blob ${digest}`);
    return data;
  }

  /** Streams a blob; the stream fails at its end if the bytes do not hash to `digest`. */
  async openBlob(digest: string): Promise<Readable> {
    const response = await this.request(`${this.repository}/blobs/${digest}`, {}, `blob ${digest}`);
    return bodyOf(response).pipe(digestVerifier(digest, `${this.registry}/${this.repository}: blob ${digest}`));
  }

  private async request(path: string, headers: Record<string, string>, what: string): Promise<Response> {
    let response = await this.send(new URL(path, this.base), headers, what);
    if (response.status === 401) {
      await response.body?.cancel();
      await this.authenticate(response.headers.get('www-authenticate'), what);
      response = await this.send(new URL(path, this.base), headers, what);
    }
    if (response.ok) return response;
    await response.body?.cancel().catch(() => undefined);
    throw this.statusError(response.status, what);
  }

  /** One request with manual redirects: Authorization is only sent to the registry's own origin. */
  private async send(url: URL, headers: Record<string, string>, what: string): Promise<Response> {
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const sameOrigin = current.origin === this.base.origin;
      const requestHeaders: Record<string, string> = { ...headers, 'user-agent': this.options.userAgent ?? 'palisade' };
      if (sameOrigin && this.authorization) requestHeaders.authorization = this.authorization;
      let response: Response;
      try {
        response = await this.fetch(current, { headers: requestHeaders, redirect: 'manual', signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000) });
      } catch (error) {
        throw this.networkError(error, current, what);
      }
      if (response.status >= 300 && response.status < 400 && response.headers.get('location')) {
        await response.body?.cancel().catch(() => undefined);
        const next = new URL(response.headers.get('location')!, current);
        if (next.protocol !== 'https:' && next.protocol !== 'http:') {
          throw new PalisadeError('registry.redirect.invalid', `${what}: redirect to unsupported URL scheme ${next.protocol}`, { kind: 'unprocessable' });
        }
        if (current.protocol === 'https:' && next.protocol === 'http:' && !this.options.insecure) {
          throw new PalisadeError('registry.redirect.insecure', `${what}: registry redirected from HTTPS to plain HTTP (${next.host})`, {
            kind: 'unprocessable',
            hint: 'refused; pass --insecure only for a registry you trust on a private network',
          });
        }
        current = next;
        continue;
      }
      return response;
    }
    throw new PalisadeError('registry.redirect.loop', `${what}: more than ${MAX_REDIRECTS} redirects`, { kind: 'unavailable' });
  }

  private async authenticate(header: string | null, what: string): Promise<void> {
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const credentials = this.options.credentials;
    if (bearer?.params.realm) {
      const realm = new URL(bearer.params.realm);
      if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && this.options.insecure)) {
        throw new PalisadeError('registry.auth.insecure-realm', `${what}: token realm ${realm.origin} is not HTTPS`, { kind: 'unprocessable', hint: 'pass --insecure only for a trusted private registry' });
      }
      if (bearer.params.service) realm.searchParams.set('service', bearer.params.service);
      realm.searchParams.set('scope', this.scope);
      const tokenHeaders: Record<string, string> = { accept: 'application/json', 'user-agent': this.options.userAgent ?? 'palisade' };
      if (credentials) tokenHeaders.authorization = basicAuthorization(credentials);
      let response: Response;
      try {
        response = await this.fetch(realm, { headers: tokenHeaders, redirect: 'error', signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000) });
      } catch (error) {
        throw this.networkError(error, realm, `${what}: token`);
      }
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        throw this.statusError(response.status === 401 || response.status === 403 ? 401 : response.status, `${what}: token from ${realm.host}`);
      }
      const body = JSON.parse((await readAll(bodyOf(response), 1 << 20, 'token response')).toString('utf8')) as { token?: string; access_token?: string };
      const token = body.token ?? body.access_token;
      if (!token) throw new PalisadeError('registry.auth.failed', `${what}: the token server returned no token`, { kind: 'unauthorized' });
      this.authorization = `Bearer ${token}`;
      return;
    }
    if (challenges.some((c) => c.scheme === 'basic') && credentials) {
      this.authorization = basicAuthorization(credentials);
      return;
    }
    throw this.statusError(401, what);
  }

  private statusError(status: number, what: string): PalisadeError {
    const where = `${this.registry}/${this.repository}`;
    if (status === 401 || status === 403) {
      return new PalisadeError('registry.unauthorized', `${where}: ${what}: access denied (HTTP ${status})`, {
        kind: 'unauthorized',
        hint: this.options.credentials ? 'check the username and password' : 'log in (docker login writes ~/.docker/config.json) or pass --username and --password-stdin',
      });
    }
    if (status === 404) return new PalisadeError('registry.not-found', `${where}: ${what} not found`, { kind: 'not-found', field: 'image' });
    if (status === 429) return new PalisadeError('registry.rate-limited', `${where}: ${what}: rate limited (HTTP 429)`, { kind: 'unavailable', hint: 'wait, or authenticate for a higher limit' });
    return new PalisadeError('registry.error', `${where}: ${what}: HTTP ${status}`, { kind: 'unavailable' });
  }

  private networkError(error: unknown, url: URL, what: string): PalisadeError {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message ?? (error as Error).message;
    return new PalisadeError('registry.unreachable', `${what}: cannot reach ${url.origin} (${detail})`, {
      kind: 'unavailable',
      cause: error,
      hint: url.protocol === 'https:' ? 'if this registry serves plain HTTP on a private network, pass --insecure' : 'is the registry running?',
    });
  }
}

function bodyOf(response: Response): Readable {
  if (!response.body) return Readable.from([]);
  return Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>);
}
