import type { RegistryAction, RegistryEvent } from '../events.js';
import { dateAt, digestAt, eventsAt, malformed, objectAt, optionalString, optionalTagAt, repositoryAt, stringAt } from './payload.js';

const KIND = 'harbor';
const ACTIONS: Record<string, RegistryAction> = { PUSH_ARTIFACT: 'push', PULL_ARTIFACT: 'pull', DELETE_ARTIFACT: 'delete' };
/** Harbor's other event types (scans, quotas, replication) are not image changes. */
const OTHER_TYPES = new Set(['SCANNING_COMPLETED', 'SCANNING_FAILED', 'SCANNING_STOPPED', 'QUOTA_EXCEED', 'QUOTA_WARNING', 'REPLICATION', 'TAG_RETENTION', 'UPLOAD_CHART', 'DOWNLOAD_CHART', 'DELETE_CHART']);

/** Harbor webhook policies (HTTP, default payload format): one event with one or more artifacts. */
export function parseHarborWebhook(body: unknown): { events: RegistryEvent[]; ignored: number } {
  const payload = objectAt(body, KIND, 'body');
  const type = stringAt(payload.type, KIND, 'type');
  if (OTHER_TYPES.has(type)) return { events: [], ignored: 1 };
  const action = ACTIONS[type];
  if (!action) throw malformed(KIND, 'type', `'${type}' is not a Harbor event type`);
  const data = objectAt(payload.event_data, KIND, 'event_data');
  const repository = objectAt(data.repository, KIND, 'event_data.repository');
  const name = repositoryAt(repository.repo_full_name, KIND, 'event_data.repository.repo_full_name');
  const resources = eventsAt(data.resources, KIND, 'event_data.resources');
  const at = dateAt(payload.occur_at, KIND, 'occur_at');
  const events = resources.map((raw, i): RegistryEvent => {
    const resource = objectAt(raw, KIND, `event_data.resources[${i}]`);
    return {
      action,
      repository: name,
      digest: digestAt(resource.digest, KIND, `event_data.resources[${i}].digest`),
      tag: optionalTagAt(resource.tag, KIND, `event_data.resources[${i}].tag`),
      actor: optionalString(payload.operator),
      import: false,
      at,
    };
  });
  return { events, ignored: 0 };
}
