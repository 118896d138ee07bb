import { PalisadeError } from '../../core/index.js';
import { checkName } from './names.js';

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

export function digestAt(value: unknown, kind: string, field: string): string {
  return checkName(kind, 'digest', field, stringAt(value, kind, field));
}

export function repositoryAt(value: unknown, kind: string, field: string): string {
  return checkName(kind, 'repository', field, stringAt(value, kind, field));
}

export function tagAt(value: unknown, kind: string, field: string): string {
  return checkName(kind, 'tag', field, stringAt(value, kind, field));
}

/** A tag the sender may leave out; when present it must be a valid tag. */
export function optionalTagAt(value: unknown, kind: string, field: string): string | undefined {
  return value === undefined || value === null || value === '' ? undefined : tagAt(value, kind, field);
}

export function dateAt(value: unknown, kind: string, field: string): Date {
  const date = typeof value === 'number' ? new Date(value * 1000) : typeof value === 'string' ? new Date(value) : new Date(NaN);
  if (Number.isNaN(date.getTime())) throw malformed(kind, field, 'must be a timestamp');
  return date;
}
