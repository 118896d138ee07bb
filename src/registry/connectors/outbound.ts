import { PalisadeError } from '../../core/index.js';

/**
 * Outbound requests a connector makes besides the registry's own (identity providers' token
 * endpoints) go only to URLs the user configured. A configured URL must be HTTPS, or plain HTTP on
 * a loopback address (a local token service, tests); it may not carry a user name or password.
 */
export function configuredUrl(value: string, field: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || url.username || url.password || url.search || url.hash || !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname)))) {
    throw new PalisadeError('registry.authority', `invalid ${field} '${value.slice(0, 120)}'`, {
      field,
      hint: 'an https URL such as https://login.microsoftonline.com/TENANT_ID or https://oauth2.googleapis.com/token (http only on a loopback address)',
    });
  }
  return url;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** The largest token response read: token answers are a few KB. */
const MAX_TOKEN_RESPONSE = 64 * 1024;

/**
 * POSTs a form to a token endpoint and reads its JSON answer, bounded in size and time. Redirects
 * are refused (a redirect could lead the credentials elsewhere). The error names the step and the
 * host, and the OAuth `error` code the server returned, never the form (it carries secrets).
 */
export async function postTokenForm(url: URL, form: Record<string, string>, step: string, fetchImpl: typeof fetch = globalThis.fetch): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': 'palisade' },
      body: new URLSearchParams(form).toString(),
      redirect: 'error',
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    throw new PalisadeError('registry.login.unreachable', `${step}: cannot reach ${url.host} (${cause})`, { kind: 'unavailable' });
  }
  const text = await readBounded(response, step);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok || typeof body !== 'object' || body === null || Array.isArray(body)) {
    const code = typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string' ? ` (${String((body as { error: string }).error).slice(0, 60)})` : '';
    throw new PalisadeError('registry.login.refused', `${step}: ${url.host} answered HTTP ${response.status}${code}`, {
      kind: response.status === 400 || response.status === 401 || response.status === 403 ? 'unauthorized' : 'unavailable',
      hint: 'check the credentials and the authority configured for this registry',
    });
  }
  return body as Record<string, unknown>;
}

async function readBounded(response: Response, step: string): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_TOKEN_RESPONSE) {
      await reader.cancel();
      throw new PalisadeError('registry.login.too_large', `${step}: the token response is larger than ${MAX_TOKEN_RESPONSE} bytes`, { kind: 'unavailable' });
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A string field of a token response, or an error naming it. */
export function tokenField(body: Record<string, unknown>, name: string, step: string): string {
  const value = body[name];
  if (typeof value !== 'string' || !value) throw new PalisadeError('registry.login.refused', `${step}: the answer has no ${name}`, { kind: 'unavailable' });
  return value;
}
