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

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
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
    if (response.status === 401 && path !== '/session') onSignedOut();
    throw new ApiError(response.status, error?.code ?? 'error', error?.message ?? response.statusText);
  }
  return data as T;
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const s = search.toString();
  return s ? `?${s}` : '';
}

export interface Page<T> { items: T[]; next?: string }

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'informational';
export const SEVERITIES: Severity[] = ['critical', 'high', 'medium', 'low', 'informational'];

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
