import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { PalisadeError, systemClock } from '../../core/index.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, digestOf, verifyDigest } from '../oci.js';
import { apiHost } from '../reference.js';
import { digestVerifier, readAll } from '../sources/source.js';
import { basicAuthorization, parseChallenges, type RegistryCredentials } from './auth.js';
import { encodePathSegment, encodeRepositoryPath, mayReceiveCredentials } from './origin.js';

export interface RegistryClientOptions {
  /** Plain HTTP (loopback and private registries without TLS). */
  insecure?: boolean;
  credentials?: RegistryCredentials;
  fetch?: typeof fetch;
  userAgent?: string;
  /** Per-request timeout for headers, in ms. */
  timeoutMs?: number;
  /** Token scope actions; `pull,push` for copying images in (`palisade registry import`). */
  actions?: 'pull' | 'pull,push';
  /** Token scope instead of the repository's, e.g. `registry:catalog:*` for listing repositories. */
  scope?: string;
  /** Longest Retry-After honoured on 429 before giving up, in seconds. */
  maxRetryAfterSeconds?: number;
}

interface RequestInit2 {
  method?: string;
  headers?: Record<string, string>;
  /** A body that can be sent again (a Buffer); streams are sent once, after authentication. */
  body?: Buffer | Readable;
  /** Statuses that are answers, not errors (404 for "does the blob exist"). */
  accept?: number[];
  /**
   * A blob download may follow the registry's redirect to its storage on another origin (S3, a
   * CDN): the bytes are verified against their digest and no Authorization goes with them.
   * Every other request stays on the registry's origin.
   */
  storageRedirect?: boolean;
}

const MAX_RATE_LIMIT_RETRIES = 3;

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
  /** The repository as an encoded URL path (`team/app`), checked once. */
  private readonly repositoryPath: string;

  constructor(
    readonly registry: string,
    readonly repository: string,
    private readonly options: RegistryClientOptions = {},
  ) {
    this.base = new URL(`${options.insecure ? 'http' : 'https'}://${apiHost(registry)}/v2/`);
    this.fetch = options.fetch ?? globalThis.fetch;
    this.repositoryPath = repository ? encodeRepositoryPath(repository) : '';
    this.scope = options.scope ?? `repository:${repository}:${options.actions ?? 'pull'}`;
  }

  /** GET a manifest by tag or digest; the digest is verified against the content (and the server's Docker-Content-Digest). */
  async getManifest(reference: string): Promise<{ data: Buffer; mediaType?: string; digest: string }> {
    const response = await this.request(`${this.repositoryPath}/manifests/${encodePathSegment(reference, 'reference')}`, { accept: MANIFEST_ACCEPT }, `manifest ${reference}`);
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
    const response = await this.call(this.blobPath(digest), { storageRedirect: true }, `blob ${digest}`);
    const data = await readAll(bodyOf(response), maxBytes, `blob ${digest}`);
    verifyDigest(data, digest, `${this.registry}/${this.repository}: blob ${digest}`);
    return data;
  }

  /** Streams a blob; the stream fails at its end if the bytes do not hash to `digest`. */
  async openBlob(digest: string): Promise<Readable> {
    const response = await this.call(this.blobPath(digest), { storageRedirect: true }, `blob ${digest}`);
    return bodyOf(response).pipe(digestVerifier(digest, `${this.registry}/${this.repository}: blob ${digest}`));
  }

  private async request(path: string, headers: Record<string, string>, what: string): Promise<Response> {
    return this.call(path, { headers }, what);
  }

  private blobPath(digest: string): string {
    return `${this.repositoryPath}/blobs/${encodePathSegment(digest, 'digest')}`;
  }

  /**
   * An API URL under the registry's `/v2/`. Paths are built from encoded segments, so this only
   * fails on a bug; it is checked anyway because a URL that left the registry would carry its credentials.
   */
  private apiUrl(path: string): URL {
    const url = new URL(path, this.base);
    if (url.origin !== this.base.origin || !url.pathname.startsWith(this.base.pathname)) {
      throw new PalisadeError('registry.request.foreign', `${this.registry}: refused a request outside the registry's API (${url.origin}${url.pathname.slice(0, 80)})`, { kind: 'invalid', field: 'repository' });
    }
    return url;
  }

  /** A Location the registry sent for an upload: followed only on the registry's own origin. */
  private sameOrigin(location: string, what: string): URL {
    const url = new URL(location, this.base);
    if (url.origin !== this.base.origin) {
      throw new PalisadeError('registry.request.foreign', `${this.registry}/${this.repository}: ${what}: the registry pointed at another origin (${url.origin}); refused`, { kind: 'unprocessable' });
    }
    return url;
  }
  /**
   * One API call: authenticates on a 401 challenge and retries, honours Retry-After on 429
   * (bounded), and turns other failures into errors naming what was asked.
   */
  private async call(path: string, init: RequestInit2, what: string): Promise<Response> {
    const url = this.apiUrl(path);
    let { response, from } = await this.send(url, init, what);
    for (let attempt = 0; ; attempt++) {
      // Only the configured registry's own challenge is answered: a storage host that a redirect
      // led to must not choose where the credentials go.
      if (response.status === 401 && attempt === 0 && !(init.body instanceof Readable) && from.origin === this.base.origin) {
        await response.body?.cancel();
        await this.authenticate(response.headers.get('www-authenticate'), what);
      } else if (response.status === 429 && attempt < MAX_RATE_LIMIT_RETRIES && !(init.body instanceof Readable)) {
        const wait = retryAfterSeconds(response.headers.get('retry-after'));
        await response.body?.cancel();
        if (wait === undefined || wait > (this.options.maxRetryAfterSeconds ?? 60)) throw this.statusError(429, what);
        await new Promise((r) => setTimeout(r, wait * 1000));
      } else {
        break;
      }
      ({ response, from } = await this.send(url, init, what));
    }
    if (response.ok || init.accept?.includes(response.status)) return response;
    await response.body?.cancel().catch(() => undefined);
    throw this.statusError(response.status, what);
  }

  /** Does the repository hold this blob? */
  async hasBlob(digest: string): Promise<boolean> {
    const response = await this.call(this.blobPath(digest), { method: 'HEAD', accept: [404] }, `blob ${digest}`);
    return response.status !== 404;
  }

  /** Cross-repository mount (same registry): true when the registry mounted it, false when it wants an upload. */
  async mountBlob(digest: string, fromRepository: string): Promise<boolean> {
    const query = new URLSearchParams({ mount: digest, from: fromRepository });
    const response = await this.call(`${this.repositoryPath}/blobs/uploads/?${query}`, { method: 'POST', headers: { 'content-length': '0' }, accept: [202] }, `mount ${digest}`);
    await response.body?.cancel().catch(() => undefined);
    if (response.status === 201) return true;
    // 202: the registry opened an upload instead; close it so it does not linger.
    const location = response.headers.get('location');
    if (location) await this.send(this.sameOrigin(location, `cancel upload ${digest}`), { method: 'DELETE' }, `cancel upload ${digest}`).then((r) => r.response.body?.cancel(), () => undefined);
    return false;
  }

  /** Monolithic upload of a blob streamed from elsewhere (POST, then PUT with the bytes and digest). */
  async pushBlob(digest: string, size: number, content: Readable): Promise<void> {
    const opened = await this.call(`${this.repositoryPath}/blobs/uploads/`, { method: 'POST', headers: { 'content-length': '0' }, accept: [202] }, `upload ${digest}`);
    await opened.body?.cancel().catch(() => undefined);
    const location = opened.headers.get('location');
    if (!location) throw new PalisadeError('registry.upload', `${this.registry}/${this.repository}: upload of ${digest} got no Location`, { kind: 'unavailable' });
    const target = this.sameOrigin(location, `upload ${digest}`);
    target.searchParams.set('digest', digest);
    const { response } = await this.send(target, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) }, body: content }, `upload ${digest}`);
    await response.body?.cancel().catch(() => undefined);
    if (response.status !== 201) throw this.statusError(response.status, `upload ${digest}`);
  }

  /** PUT a manifest under a tag or its digest. */
  async putManifest(reference: string, data: Buffer, mediaType: string): Promise<void> {
    const response = await this.call(`${this.repositoryPath}/manifests/${encodePathSegment(reference, 'reference')}`, { method: 'PUT', headers: { 'content-type': mediaType }, body: data }, `manifest ${reference}`);
    await response.body?.cancel().catch(() => undefined);
  }

  /** The repository's tags (first page of up to 1000; registries paginate beyond). */
  async listTags(): Promise<string[]> {
    const response = await this.call(`${this.repositoryPath}/tags/list?n=1000`, {}, 'tag list');
    const body = JSON.parse((await readAll(bodyOf(response), 8 << 20, 'tag list')).toString('utf8')) as { tags?: string[] | null };
    return body.tags ?? [];
  }

  /** The registry's repositories (`/v2/_catalog`, first page of up to 1000); needs the `registry:catalog:*` scope. */
  async listRepositories(): Promise<string[]> {
    const response = await this.call('_catalog?n=1000', {}, 'catalog');
    const body = JSON.parse((await readAll(bodyOf(response), 16 << 20, 'catalog')).toString('utf8')) as { repositories?: string[] | null };
    return body.repositories ?? [];
  }

  /** Manifest digest of a tag without downloading it (HEAD). */
  async resolveTag(tag: string): Promise<string | undefined> {
    const response = await this.call(`${this.repositoryPath}/manifests/${encodePathSegment(tag, 'reference')}`, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT }, accept: [404] }, `manifest ${tag}`);
    return response.status === 404 ? undefined : (response.headers.get('docker-content-digest') ?? undefined);
  }

  /**
   * One request with manual redirects: only blob downloads may leave the registry's origin, and
   * Authorization is only ever sent to that origin. Returns where the final answer came from.
   */
  private async send(url: URL, init: RequestInit2, what: string): Promise<{ response: Response; from: URL }> {
    let current = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const sameOrigin = current.origin === this.base.origin;
      const requestHeaders: Record<string, string> = { ...init.headers, 'user-agent': this.options.userAgent ?? 'palisade' };
      if (sameOrigin && this.authorization) requestHeaders.authorization = this.authorization;
      let response: Response;
      try {
        const body = init.body instanceof Readable ? (Readable.toWeb(init.body) as unknown as RequestInit['body']) : init.body;
        response = await this.fetch(current, {
          method: init.method ?? 'GET',
          headers: requestHeaders,
          redirect: 'manual',
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000),
          ...(body ? { body, duplex: 'half' } : {}),
        } as RequestInit);
      } catch (error) {
        throw this.networkError(error, current, what);
      }
      if (response.status >= 300 && response.status < 400 && response.headers.get('location')) {
        await response.body?.cancel().catch(() => undefined);
        const next = new URL(response.headers.get('location')!, current);
        if (next.protocol !== 'https:' && next.protocol !== 'http:') {
          throw new PalisadeError('registry.redirect.invalid', `${what}: redirect to unsupported URL scheme ${next.protocol}`, { kind: 'unprocessable' });
        }
        if (next.origin !== this.base.origin && !init.storageRedirect) {
          throw new PalisadeError('registry.redirect.foreign', `${what}: the registry redirected to another origin (${next.origin}); refused`, {
            kind: 'unprocessable',
            hint: 'only blob downloads may be redirected to storage on another host',
          });
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
      return { response, from: current };
    }
    throw new PalisadeError('registry.redirect.loop', `${what}: more than ${MAX_REDIRECTS} redirects`, { kind: 'unavailable' });
  }

  private async authenticate(header: string | null, what: string): Promise<void> {
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const credentials = this.options.credentials;
    if (bearer?.params.realm) {
      let realm: URL;
      try {
        realm = new URL(bearer.params.realm);
      } catch {
        throw new PalisadeError('registry.auth.invalid-realm', `${what}: the registry's token realm is not a URL (${JSON.stringify(bearer.params.realm.slice(0, 80))})`, { kind: 'unprocessable' });
      }
      if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && this.options.insecure)) {
        throw new PalisadeError('registry.auth.insecure-realm', `${what}: token realm ${realm.origin} is not HTTPS`, { kind: 'unprocessable', hint: 'pass --insecure only for a trusted private registry' });
      }
      if (realm.username || realm.password) {
        throw new PalisadeError('registry.auth.invalid-realm', `${what}: the token realm carries a user name or password; refused`, { kind: 'unprocessable' });
      }
      // Stored credentials go to the registry's own host or to a realm host the user named; any
      // other realm is refused outright rather than asked anonymously, so the failure is clear.
      if (credentials && !mayReceiveCredentials(realm, this.base, credentials)) {
        throw new PalisadeError('registry.auth.realm-not-allowed', `${what}: the registry's token realm ${realm.host} is not the registry's host; its credentials were not sent there`, {
          kind: 'unprocessable',
          hint: `if ${realm.host} is this registry's token service, add it to the registry's allowed token realms (tokenRealms)`,
        });
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
    return new PalisadeError('registry.unreachable', `${this.registry}/${this.repository}: ${what}: cannot reach ${url.origin} (${detail})`, {
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

/** Retry-After as seconds: either a number of seconds or an HTTP date. */
function retryAfterSeconds(header: string | null): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - systemClock.now().getTime()) / 1000));
}
