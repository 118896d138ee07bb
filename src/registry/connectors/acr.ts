import type { RegistryEvent } from '../events.js';
import { parseDistributionEvent } from './distribution.js';
import { malformed, objectAt, stringAt } from './payload.js';

const KIND = 'acr';

/**
 * Azure Container Registry webhooks: one Distribution-shaped event per request, with the
 * actions push, delete, quarantine and chart_push. Helm chart pushes are recorded, not scanned.
 */
export function parseAcrWebhook(body: unknown): { events: RegistryEvent[]; ignored: number } {
  const event = objectAt(body, KIND, 'body');
  const action = stringAt(event.action, KIND, 'action');
  if (!['push', 'delete', 'quarantine', 'chart_push', 'chart_delete', 'ping'].includes(action)) throw malformed(KIND, 'action', `'${action}' is not an ACR webhook action`);
  if (action === 'ping' || action === 'chart_push' || action === 'chart_delete') return { events: [], ignored: 1 };
  const parsed = parseDistributionEvent(event, 'body', KIND);
  return parsed ? { events: [parsed], ignored: 0 } : { events: [], ignored: 1 };
}
