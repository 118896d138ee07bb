import type { Severity } from '../../src/core/severity.js';
/** The dashboard talks to the REST API only, with the session cookie and its CSRF token. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
  /** The route does not exist on this server: the capability has not landed (yet). */
  get unavailable(): boolean {
    return this.status === 404 && this.message.startsWith('no route');
  }
}

let csrf: string | null = null;
let onSignedOut: () => void = () => {};

export function setCsrf(token: string | null): void {
  csrf = token;
}

export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

async function request<T>(path: string, init: { method?: string; body?: unknown }, signOutOn401: boolean): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (init.method && init.method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  const response = await fetch(`/api/v1${path}`, {
    method: init.method ?? 'GET',
    headers,
    credentials: 'same-origin',
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  const data = text ? (JSON.parse(text) as unknown) : undefined;
  if (!response.ok) {
    const error = data as { code?: string; message?: string } | undefined;
    if (response.status === 401 && signOutOn401 && path !== '/session') onSignedOut();
    throw new ApiError(response.status, error?.code ?? 'error', error?.message ?? response.statusText);
  }
  return data as T;
}

const prefetched = new Map<string, Promise<unknown>>();

/**
 * Starts GETs the first page will make while the session is still being checked, so the page's
 * data does not wait for the session round trip (the overview's aggregates are the slow part of a
 * first load). Each result is used once, by the first api() call for the same path; a failed one
 * (not signed in yet) is simply asked again.
 */
export function prefetch(...paths: string[]): void {
  for (const path of paths) {
    const pending = request(path, {}, false);
    pending.catch(() => {});
    prefetched.set(path, pending);
  }
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const early = (init.method ?? 'GET') === 'GET' ? prefetched.get(path) : undefined;
  if (early) {
    prefetched.delete(path);
    try {
      return (await early) as T;
    } catch {
      // asked again below
    }
  }
  return request<T>(path, init, true);
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const s = search.toString();
  return s ? `?${s}` : '';
}

export interface Page<T> { items: T[]; next?: string }

// The server's own severity scale (a pure module, no Node imports), so the dashboard orders and
// offers severities exactly as the API and the CLI do.
export { compareSeverity, SEVERITIES, type Severity } from '../../src/core/severity.js';

export interface Alert {
  id: string;
  rule: string;
  title: string;
  severity: Severity;
  tactic: string;
  technique?: string;
  resource: { kind: string; id: string; name: string; cluster?: string; namespace?: string };
  evidence: unknown[];
  remediation: string;
  source: string;
  firstSeen: string;
  lastSeen: string;
  count: number;
  status: 'active' | 'dismissed' | 'resolved';
}

export interface SessionInfo { subject: string; role: 'admin' | 'reader'; csrf: string | null }
