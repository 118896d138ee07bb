import { systemClock } from '../../core/index.js';
import { IMAGE_MANIFEST_TYPES, isImportUserAgent, isPalisadeScanUserAgent, type RegistryAction, type RegistryEvent } from '../events.js';
import { dateAt, digestAt, eventsAt, malformed, objectAt, optionalString, optionalTagAt, repositoryAt, stringAt } from './payload.js';

const KIND = 'distribution';
const ACTIONS = new Set<RegistryAction>(['push', 'pull', 'delete', 'mount']);

/**
 * CNCF Distribution (docker-registry, and registries built on it such as ACR's and GitLab's)
 * notification envelopes `{ events: [...] }`. Blob events are ignored: a manifest push is
 * what completes an image.
 */
export function parseDistributionEnvelope(body: unknown): { events: RegistryEvent[]; ignored: number } {
  const envelope = objectAt(body, KIND, 'body');
  const events: RegistryEvent[] = [];
  let ignored = 0;
  eventsAt(envelope.events, KIND, 'events').forEach((raw, i) => {
    const event = parseDistributionEvent(raw, `events[${i}]`);
    if (event) events.push(event);
    else ignored++;
  });
  return { events, ignored };
}

/** One Distribution-shaped event; undefined for blob and non-image events. ACR sends these one at a time. */
export function parseDistributionEvent(raw: unknown, at = 'body', kind = KIND): RegistryEvent | undefined {
  const event = objectAt(raw, kind, at);
  const action = stringAt(event.action, kind, `${at}.action`) as RegistryAction;
  const target = objectAt(event.target, kind, `${at}.target`);
  const mediaType = optionalString(target.mediaType);
  if (!ACTIONS.has(action) && !['quarantine', 'chart_push'].includes(action)) throw malformed(kind, `${at}.action`, `'${action}' is not push, pull, delete or mount`);
  // Blob pushes and pulls carry no tag and a blob media type; deletes carry only a digest.
  if (action !== 'delete' && (!mediaType || !IMAGE_MANIFEST_TYPES.has(mediaType))) return undefined;
  const request = typeof event.request === 'object' && event.request !== null ? (event.request as Record<string, unknown>) : {};
  const actor = typeof event.actor === 'object' && event.actor !== null ? (event.actor as Record<string, unknown>) : {};
  const userAgent = optionalString(request.useragent);
  // Palisade's own scan reading the image is not a pull (it would keep the image in the daily rescan).
  if (action === 'pull' && isPalisadeScanUserAgent(userAgent)) return undefined;
  return {
    id: optionalString(event.id),
    action,
    repository: repositoryAt(target.repository, kind, `${at}.target.repository`),
    digest: digestAt(target.digest, kind, `${at}.target.digest`),
    tag: optionalTagAt(target.tag, kind, `${at}.target.tag`),
    mediaType,
    userAgent,
    actor: optionalString(actor.name),
    import: isImportUserAgent(userAgent),
    at: event.timestamp === undefined ? systemClock.now() : dateAt(event.timestamp, kind, `${at}.timestamp`),
  };
}
