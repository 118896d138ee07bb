import type { RegistryAction, RegistryEvent } from '../events.js';
import { dateAt, digestAt, malformed, objectAt, optionalTagAt, repositoryAt, stringAt } from './payload.js';

const KIND = 'ecr';
const ACTIONS: Record<string, RegistryAction> = { PUSH: 'push', DELETE: 'delete' };

/**
 * Amazon ECR through EventBridge: a rule on `source: aws.ecr`, `detail-type: ECR Image Action` with
 * an API destination whose connection sends `Authorization: Bearer TOKEN`. The event arrives as
 * EventBridge emits it. Failed actions and other ECR events (scans, replication, pull through
 * cache) are ignored; ECR emits no pull events.
 */
export function parseEcrEvent(body: unknown): { events: RegistryEvent[]; ignored: number } {
  const event = objectAt(body, KIND, 'body');
  if (stringAt(event.source, KIND, 'source') !== 'aws.ecr') throw malformed(KIND, 'source', 'must be aws.ecr (send the EventBridge event unchanged)');
  if (event['detail-type'] !== 'ECR Image Action') return { events: [], ignored: 1 };
  const detail = objectAt(event.detail, KIND, 'detail');
  const action = ACTIONS[stringAt(detail['action-type'], KIND, 'detail.action-type')];
  if (!action || detail.result !== 'SUCCESS') return { events: [], ignored: 1 };
  return {
    events: [{
      id: typeof event.id === 'string' ? event.id : undefined,
      action,
      repository: repositoryAt(detail['repository-name'], KIND, 'detail.repository-name'),
      digest: digestAt(detail['image-digest'], KIND, 'detail.image-digest'),
      tag: optionalTagAt(detail['image-tag'], KIND, 'detail.image-tag'),
      import: false,
      at: dateAt(event.time, KIND, 'time'),
    }],
    ignored: 0,
  };
}
