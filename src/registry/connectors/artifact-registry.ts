import type { RegistryAction, RegistryEvent } from '../events.js';
import { dateAt, malformed, objectAt, optionalString, stringAt } from './payload.js';
import { checkName } from './names.js';

const KIND = 'artifact-registry';
const ACTIONS: Record<string, RegistryAction> = { INSERT: 'push', DELETE: 'delete' };

/**
 * Google Artifact Registry (and Container Registry) notifications: the `gcr` Pub/Sub topic with a
 * push subscription to Palisade's webhook URL (token in `?token=`; Pub/Sub sends no custom
 * headers). The push envelope carries the notification base64-encoded in `message.data`:
 * `{"action":"INSERT","digest":"HOST/PATH@sha256:…","tag":"HOST/PATH:TAG"}`. The repository is the
 * path after the host (`PROJECT/REPOSITORY/IMAGE` on `*-docker.pkg.dev`).
 */
export function parseArtifactRegistryPush(body: unknown): { events: RegistryEvent[]; ignored: number } {
  const envelope = objectAt(body, KIND, 'body');
  const message = objectAt(envelope.message, KIND, 'message');
  const data = stringAt(message.data, KIND, 'message.data');
  let notification: Record<string, unknown>;
  try {
    notification = objectAt(JSON.parse(Buffer.from(data, 'base64').toString('utf8')), KIND, 'message.data');
  } catch (error) {
    if ((error as { code?: string }).code === 'registry.webhook.malformed') throw error;
    throw malformed(KIND, 'message.data', 'must be base64 of the notification\'s JSON');
  }
  const action = ACTIONS[stringAt(notification.action, KIND, 'message.data.action')];
  if (!action) throw malformed(KIND, 'message.data.action', `'${String(notification.action).slice(0, 40)}' is not INSERT or DELETE`);
  const digestRef = optionalString(notification.digest);
  const tagRef = optionalString(notification.tag);
  if (!digestRef && !tagRef) throw malformed(KIND, 'message.data', 'names neither digest nor tag');
  const fromDigest = digestRef ? splitReference(digestRef, '@', 'message.data.digest') : undefined;
  const fromTag = tagRef ? splitReference(tagRef, ':', 'message.data.tag') : undefined;
  // A delete by tag alone (untagging) leaves the image: only digests are deleted.
  if (action === 'delete' && !fromDigest) return { events: [], ignored: 1 };
  return {
    events: [{
      id: optionalString(message.messageId) ?? optionalString(message.message_id),
      action,
      repository: checkName(KIND, 'repository', fromDigest ? 'message.data.digest' : 'message.data.tag', (fromDigest ?? fromTag)!.repository),
      ...(fromDigest ? { digest: checkName(KIND, 'digest', 'message.data.digest', fromDigest.reference) } : {}),
      ...(fromTag ? { tag: checkName(KIND, 'tag', 'message.data.tag', fromTag.reference) } : {}),
      import: false,
      at: dateAt(message.publishTime ?? message.publish_time, KIND, 'message.publishTime'),
    }],
    ignored: 0,
  };
}

/** `HOST/PATH@DIGEST` or `HOST/PATH:TAG` → the path and the digest or tag (a port in HOST has no `/` after its colon). */
function splitReference(value: string, separator: '@' | ':', field: string): { repository: string; reference: string } {
  const slash = value.indexOf('/');
  const at = value.lastIndexOf(separator);
  if (slash <= 0 || at <= slash) throw malformed(KIND, field, `must be HOST/PATH${separator === '@' ? '@DIGEST' : ':TAG'}`);
  return { repository: value.slice(slash + 1, at), reference: value.slice(at + 1) };
}
