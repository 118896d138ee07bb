import { createHmac, timingSafeEqual } from 'node:crypto';
import { PalisadeError, systemClock } from '../../core/index.js';
import { dateAt, objectAt, repositoryAt, stringAt, tagAt } from './payload.js';
import type { WebhookContext, WebhookResult } from './webhook.js';

const KIND = 'nexus';

/**
 * Sonatype Nexus Repository 3, "Webhook: Repository" capability with the `component` event type
 * (`X-Nexus-Webhook-Id: rm:repository:component`): a Docker component is an image (`name`) and a
 * tag (`version`); Nexus names no digest, so the tag is resolved when scanned. Other formats,
 * updates and deletions of tags, and other webhook ids are ignored. Connected through the
 * repository's path (`…/repository/NAME`), only that repository's events count; through a
 * repository connector's port, every repository's.
 */
export function parseNexusWebhook(body: unknown, context: WebhookContext = {}): WebhookResult {
  const webhookId = context.headers?.['x-nexus-webhook-id'];
  if (webhookId !== undefined && webhookId !== 'rm:repository:component') return { events: [], ignored: 1 };
  const payload = objectAt(body, KIND, 'body');
  const action = stringAt(payload.action, KIND, 'action');
  const component = objectAt(payload.component, KIND, 'component');
  if (component.format !== 'docker' || (action !== 'CREATED' && action !== 'UPDATED')) return { events: [], ignored: 1 };
  const repositoryName = stringAt(payload.repositoryName, KIND, 'repositoryName');
  const pathRepository = context.url ? /^\/repository\/([^/]+)$/.exec(new URL(context.url).pathname)?.[1] : undefined;
  if (pathRepository !== undefined && pathRepository !== repositoryName) return { events: [], ignored: 1 };
  return {
    events: [{
      id: typeof context.headers?.['x-nexus-webhook-delivery'] === 'string' ? context.headers['x-nexus-webhook-delivery'] : undefined,
      action: 'push',
      repository: repositoryAt(component.name, KIND, 'component.name'),
      tag: tagAt(component.version, KIND, 'component.version'),
      ...(typeof payload.initiator === 'string' ? { actor: payload.initiator.replace(/\/.*$/, '') } : {}),
      import: false,
      at: payload.timestamp === undefined ? (context.receivedAt ?? systemClock.now()) : nexusTime(payload.timestamp),
    }],
    ignored: 0,
  };
}

/** Nexus writes `2020-04-05T21:49:44.219+0000` (no colon in the offset), which Date does not read. */
function nexusTime(value: unknown): Date {
  return dateAt(typeof value === 'string' ? value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2') : value, KIND, 'timestamp');
}

/**
 * `X-Nexus-Webhook-Signature`: the hex HMAC-SHA1 of the body as sent, keyed with the capability's
 * Secret Key. Compared in constant time; a missing or wrong signature is refused (401) before the
 * body is read for events.
 */
export function verifyNexusSignature(secret: string, rawBody: string | Buffer, header: string | string[] | undefined): void {
  const given = typeof header === 'string' ? header.trim().toLowerCase() : '';
  if (!/^[0-9a-f]{40}$/.test(given)) {
    throw new PalisadeError('registry.webhook.signature', 'nexus webhook: X-Nexus-Webhook-Signature is missing or not a hex HMAC-SHA1', {
      kind: 'unauthorized', field: 'X-Nexus-Webhook-Signature', hint: 'set the webhook capability\'s Secret Key to the secret Palisade gave for this registry',
    });
  }
  const expected = createHmac('sha1', secret).update(rawBody).digest();
  if (!timingSafeEqual(expected, Buffer.from(given, 'hex'))) {
    throw new PalisadeError('registry.webhook.signature', 'nexus webhook: X-Nexus-Webhook-Signature does not match the body', {
      kind: 'unauthorized', field: 'X-Nexus-Webhook-Signature', hint: 'the capability\'s Secret Key must be the secret Palisade gave for this registry',
    });
  }
}
