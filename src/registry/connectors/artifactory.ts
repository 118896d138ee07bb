import { systemClock } from '../../core/index.js';
import { malformed, objectAt, optionalString, repositoryAt, stringAt, tagAt } from './payload.js';
import { checkName } from './names.js';
import type { WebhookContext, WebhookResult } from './webhook.js';

const KIND = 'artifactory';
const PUSHED = new Set(['pushed', 'docker.tagPushed']);
const DELETED = new Set(['deleted', 'docker.tagDeleted']);

/**
 * JFrog Artifactory webhooks of the `docker` domain: `pushed` (a tag of an image was pushed; older
 * Artifactory names it `docker.tagPushed`) and `deleted`. The delivery is the envelope
 * `{ domain, event_type, data: {...} }`; the documentation also shows the `data` object alone, which
 * is read the same way. `sha256` is the manifest's (the `manifest.json` or `list.manifest.json`
 * file Artifactory stores), so it is the image's digest.
 *
 * Which repository the image is in depends on how the registry was connected: through the
 * repository's API path (`…/artifactory/api/docker/REPO_KEY`) the image name alone, and only
 * events of that repository; at the host (repository path method) `REPO_KEY/IMAGE`. Other domains
 * and events are ignored. Artifactory sends custom headers: `Authorization: Bearer TOKEN`.
 */
export function parseArtifactoryWebhook(body: unknown, context: WebhookContext = {}): WebhookResult {
  const envelope = objectAt(body, KIND, 'body');
  const enveloped = envelope.data !== undefined;
  if (enveloped && envelope.domain !== 'docker') return { events: [], ignored: 1 };
  const data = enveloped ? objectAt(envelope.data, KIND, 'data') : envelope;
  const field = (name: string) => (enveloped ? `data.${name}` : name);
  const type = stringAt(envelope.event_type ?? data.event_type, KIND, 'event_type');
  const action = PUSHED.has(type) ? 'push' : DELETED.has(type) ? 'delete' : undefined;
  if (!action) return { events: [], ignored: 1 };
  const repoKey = stringAt(data.repo_key, KIND, field('repo_key'));
  const image = stringAt(data.image_name, KIND, field('image_name'));
  const apiRepository = context.url ? /\/artifactory\/api\/docker\/([^/]+)$/.exec(new URL(context.url).pathname)?.[1] : undefined;
  if (apiRepository !== undefined && apiRepository !== repoKey) return { events: [], ignored: 1 };
  const sha256 = stringAt(data.sha256, KIND, field('sha256'));
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw malformed(KIND, field('sha256'), 'must be the manifest\'s 64 hex digits');
  return {
    events: [{
      action,
      repository: repositoryAt(apiRepository !== undefined ? image : `${repoKey}/${image}`, KIND, field('image_name')),
      digest: checkName(KIND, 'digest', field('sha256'), `sha256:${sha256}`),
      tag: tagAt(data.tag, KIND, field('tag')),
      ...(optionalString(envelope.source) ? { actor: optionalString(envelope.source) } : {}),
      import: false,
      // The payload carries no time: the arrival time is used.
      at: (context.receivedAt ?? systemClock.now()),
    }],
    ignored: 0,
  };
}
