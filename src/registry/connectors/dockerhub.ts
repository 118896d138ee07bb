import type { RegistryEvent } from '../events.js';
import { dateAt, objectAt, optionalString, repositoryAt, tagAt } from './payload.js';

const KIND = 'dockerhub';

/** Docker Hub repository webhooks: a push names the repository and tag, not the digest. */
export function parseDockerHubWebhook(body: unknown): { events: RegistryEvent[]; ignored: number } {
  const payload = objectAt(body, KIND, 'body');
  const push = objectAt(payload.push_data, KIND, 'push_data');
  const repository = objectAt(payload.repository, KIND, 'repository');
  return {
    events: [{
      action: 'push',
      repository: repositoryAt(repository.repo_name, KIND, 'repository.repo_name'),
      tag: tagAt(push.tag, KIND, 'push_data.tag'),
      actor: optionalString(push.pusher),
      import: false,
      at: dateAt(push.pushed_at, KIND, 'push_data.pushed_at'),
    }],
    ignored: 0,
  };
}
