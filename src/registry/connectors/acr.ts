import type { RegistryEvent } from '../events.js';
import { parseDistributionEvent } from './distribution.js';
import { eventsAt, malformed, objectAt, stringAt } from './payload.js';
import type { WebhookResult } from './webhook.js';

const KIND = 'acr';

/**
 * Azure Container Registry, two ways: its webhooks (one Distribution-shaped event per request, with
 * the actions push, delete, quarantine and chart_push; Helm chart pushes are recorded, not scanned),
 * or Event Grid (an array of events, see parseEventGrid).
 */
export function parseAcrWebhook(body: unknown): WebhookResult {
  if (Array.isArray(body)) return parseEventGrid(body);
  const event = objectAt(body, KIND, 'body');
  const action = stringAt(event.action, KIND, 'action');
  if (!['push', 'delete', 'quarantine', 'chart_push', 'chart_delete', 'ping'].includes(action)) throw malformed(KIND, 'action', `'${action}' is not an ACR webhook action`);
  if (action === 'ping' || action === 'chart_push' || action === 'chart_delete') return { events: [], ignored: 1 };
  const parsed = parseDistributionEvent(event, 'body', KIND);
  return parsed ? { events: [parsed], ignored: 0 } : { events: [], ignored: 1 };
}

const VALIDATION_EVENT = 'Microsoft.EventGrid.SubscriptionValidationEvent';
/** Event Grid validation codes are GUIDs; anything echoed back is kept to a short, plain token. */
const VALIDATION_CODE = /^[A-Za-z0-9-]{1,128}$/;

/**
 * Event Grid deliveries of the registry's system topic, in the Event Grid schema (`eventType`,
 * `eventTime`) or CloudEvents 1.0 (`type`, `time`): `Microsoft.ContainerRegistry.ImagePushed` and
 * `ImageDeleted` carry the registry's Distribution-shaped event in `data`; chart events are ignored.
 * A subscription validation event is answered (`answer`) with its `validationCode`, which is how
 * Event Grid's handshake proves this endpoint asked for the events (docs: "Webhook event delivery").
 */
function parseEventGrid(body: unknown[]): WebhookResult {
  const events: RegistryEvent[] = [];
  let ignored = 0;
  const list = eventsAt(body, KIND, 'body');
  if (!list.length) throw malformed(KIND, 'body', 'must be an ACR webhook event or a non-empty Event Grid array');
  for (const [i, raw] of list.entries()) {
    const at = `[${i}]`;
    const item = objectAt(raw, KIND, at);
    const type = stringAt(item.eventType ?? item.type, KIND, `${at}.eventType`);
    if (type === VALIDATION_EVENT) {
      const data = objectAt(item.data, KIND, `${at}.data`);
      const code = stringAt(data.validationCode, KIND, `${at}.data.validationCode`);
      if (!VALIDATION_CODE.test(code)) throw malformed(KIND, `${at}.data.validationCode`, 'is not an Event Grid validation code');
      return { events: [], ignored: list.length - 1, answer: { validationResponse: code } };
    }
    const name = type.replace(/^Microsoft\.ContainerRegistry\./, '');
    if (name !== 'ImagePushed' && name !== 'ImageDeleted') {
      ignored++;
      continue;
    }
    const data = objectAt(item.data, KIND, `${at}.data`);
    const expected = name === 'ImagePushed' ? 'push' : 'delete';
    if (data.action !== expected) throw malformed(KIND, `${at}.data.action`, `must be ${expected} for ${type}`);
    const event = parseDistributionEvent(data, `${at}.data`, KIND);
    if (event) events.push({ ...event, id: typeof item.id === 'string' ? item.id : event.id });
    else ignored++;
  }
  return { events, ignored };
}
