import { systemClock } from '../../core/index.js';
import type { RegistryEvent } from '../events.js';
import { eventsAt, malformed, objectAt, repositoryAt, stringAt, tagAt } from './payload.js';

const KIND = 'quay';

/**
 * Quay (quay.io, Red Hat Quay) repository notifications, "Push to Repository" with the Webhook
 * POST method: the repository and its updated tags, no digest (each tag is resolved when scanned)
 * and no time (the arrival time is used). Build, mirror and vulnerability notifications are ignored.
 * Quay's webhooks send no custom headers: the token travels in the URL (`?token=`).
 */
export function parseQuayWebhook(body: unknown, receivedAt: Date = systemClock.now()): { events: RegistryEvent[]; ignored: number } {
  const payload = objectAt(body, KIND, 'body');
  if (payload.updated_tags === undefined) return { events: [], ignored: 1 }; // not a push notification
  const repository = repositoryAt(stringAt(payload.repository, KIND, 'repository'), KIND, 'repository');
  // Older Quay sent { tag: imageId }; today a list of tag names.
  const updated = payload.updated_tags;
  const tags = Array.isArray(updated) ? eventsAt(updated, KIND, 'updated_tags') : typeof updated === 'object' && updated !== null ? Object.keys(updated) : undefined;
  if (!tags) throw malformed(KIND, 'updated_tags', 'must be a list of tags');
  return {
    events: tags.map((tag, i): RegistryEvent => ({ action: 'push', repository, tag: tagAt(tag, KIND, `updated_tags[${i}]`), import: false, at: receivedAt })),
    ignored: 0,
  };
}
