import { PalisadeError } from '../../core/index.js';
import { AuditBatch, decodeAuditValue } from './decode.js';

/** The apiserver's webhook backend sends at most this many events per request by default (`--audit-webhook-batch-max-size`). */
export const WEBHOOK_MAX_EVENTS = 400;
/** A 400-event RequestResponse batch is a few MB; anything far larger is not an apiserver talking. */
export const WEBHOOK_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Decodes an audit webhook body: an `EventList` (what the apiserver sends), a JSON array, or a single
 * Event. Bad items are reported per index and the rest delivered; a body that is not JSON at all,
 * too large, or holding too many events is refused as a whole with a typed error.
 */
export function decodeWebhookBody(body: unknown, cluster: string, maxEvents = WEBHOOK_MAX_EVENTS): AuditBatch {
  let value = body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    if (size > WEBHOOK_MAX_BYTES) {
      throw new PalisadeError('audit.body-too-large', `audit batch of ${size} bytes exceeds ${WEBHOOK_MAX_BYTES}`, { kind: 'too-large', hint: 'lower --audit-webhook-batch-max-size on the apiserver' });
    }
    try {
      value = JSON.parse(body.toString());
    } catch (error) {
      throw new PalisadeError('audit.invalid-json', `audit batch is not JSON: ${(error as Error).message}`, { cause: error });
    }
  }
  const count = Array.isArray(value) ? value.length
    : typeof value === 'object' && value !== null && Array.isArray((value as { items?: unknown }).items) ? (value as { items: unknown[] }).items.length : 1;
  if (count > maxEvents) {
    throw new PalisadeError('audit.batch-too-large', `audit batch holds ${count} events, more than ${maxEvents}`, { kind: 'too-large', field: 'items', hint: `set --audit-webhook-batch-max-size to ${maxEvents} or less` });
  }
  const batch = new AuditBatch();
  decodeAuditValue(value, batch, { cluster });
  return batch;
}
