import { PalisadeError } from '../../core/index.js';
import { checkName } from './names.js';

/** Small readers that turn a malformed payload into a 400 naming the field. */
export function malformed(kind: string, field: string, problem: string): PalisadeError {
  return new PalisadeError('registry.webhook.malformed', `${kind} webhook: ${field} ${problem}`, { field, hint: 'send the registry\'s own webhook payload unchanged' });
}

/**
 * The most events one webhook request may carry. docker-registry sends one event per envelope
 * and Harbor one artifact list per push, so real senders stay far below; a request above this is
 * refused with 413 before anything is stored, so one request cannot occupy the server (docs/api.md).
 * A larger burst arrives as several requests, each processed in short batches.
 */
export const MAX_WEBHOOK_EVENTS = 1000;

/**
 * The largest webhook body: room for MAX_WEBHOOK_EVENTS real events (about 0.8 KB each, 2 KB with
 * long names), and small enough that parsing it (one synchronous JSON.parse) takes milliseconds.
 */
export const MAX_WEBHOOK_BYTES = 2 * 1024 * 1024;

export function tooManyEvents(kind: string, field: string, count: number | undefined): PalisadeError {
  return new PalisadeError('registry.webhook.too_many_events', `${kind} webhook: at most ${MAX_WEBHOOK_EVENTS} events per request${count === undefined ? '' : ` (${field} holds ${count})`}`, {
    kind: 'too-large',
    field,
    hint: `send at most ${MAX_WEBHOOK_EVENTS} events per request`,
  });
}

/** An array of events, refused whole (413) above MAX_WEBHOOK_EVENTS. */
export function eventsAt(value: unknown, kind: string, field: string): unknown[] {
  if (!Array.isArray(value)) throw malformed(kind, field, 'must be an array');
  if (value.length > MAX_WEBHOOK_EVENTS) throw tooManyEvents(kind, field, value.length);
  return value;
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
