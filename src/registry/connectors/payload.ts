import { PalisadeError } from '../../core/index.js';

/** Small readers that turn a malformed payload into a 400 naming the field. */
export function malformed(kind: string, field: string, problem: string): PalisadeError {
  return new PalisadeError('registry.webhook.malformed', `${kind} webhook: ${field} ${problem}`, { field, hint: 'send the registry\'s own webhook payload unchanged' });
}

export function objectAt(value: unknown, kind: string, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(kind, field, 'must be an object');
  return value as Record<string, unknown>;
}

export function stringAt(value: unknown, kind: string, field: string): string {
  if (typeof value !== 'string' || !value) throw malformed(kind, field, 'must be a non-empty string');
  return value;
}

export function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}

const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

export function digestAt(value: unknown, kind: string, field: string): string {
  const digest = stringAt(value, kind, field);
  if (!DIGEST.test(digest)) throw malformed(kind, field, `is not a digest ('${digest.slice(0, 80)}')`);
  return digest;
}

export function dateAt(value: unknown, kind: string, field: string): Date {
  const date = typeof value === 'number' ? new Date(value * 1000) : typeof value === 'string' ? new Date(value) : new Date(NaN);
  if (Number.isNaN(date.getTime())) throw malformed(kind, field, 'must be a timestamp');
  return date;
}
