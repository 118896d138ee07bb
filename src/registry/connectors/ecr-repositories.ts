import { PalisadeError } from '../../core/index.js';
import type { RegistryLogin } from '../credentials.js';
import { ecrLocation, type EcrLogin } from './ecr-login.js';
import { ecrSdk } from './ecr-sdk.js';

/** Pages of DescribeRepositories read at most (1000 repositories a page). */
const MAX_PAGES = 20;

/**
 * A private ECR registry's repositories through the AWS API (DescribeRepositories, signed with the
 * user's keys and sent to the region's ECR endpoint): ECR's Distribution API has no catalog a
 * poller can use. Undefined when the registry is not a private ECR host or holds no AWS keys.
 */
export async function ecrRepositories(registryUrl: string, login: RegistryLogin | undefined, options: { endpoint?: string } = {}): Promise<string[] | undefined> {
  const location = ecrLocation(registryUrl);
  if (!location || !login) return undefined;
  const saved = (login as Partial<EcrLogin>).aws;
  // A registry connected a moment ago still holds the keys as its login (ecr-login.ts).
  const keys = saved ?? (login.username !== 'AWS' ? { accessKeyId: login.username, secretAccessKey: login.password } : undefined);
  if (!keys) return undefined;
  const { DescribeRepositoriesCommand, ECRClient } = ecrSdk();
  const client = new ECRClient({ region: location.region, credentials: { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey }, maxAttempts: 2, ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
  const names: string[] = [];
  try {
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await client.send(new DescribeRepositoriesCommand({ registryId: location.accountId, maxResults: 1000, ...(nextToken ? { nextToken } : {}) }));
      for (const repository of answer.repositories ?? []) if (repository.repositoryName) names.push(repository.repositoryName);
      nextToken = answer.nextToken;
      if (!nextToken) break;
    }
  } catch (error) {
    const name = (error as { name?: string }).name ?? 'Error';
    throw new PalisadeError('registry.ecr.repositories', `ECR DescribeRepositories in ${location.region} failed: ${name}`, {
      kind: name === 'UnrecognizedClientException' || name === 'AccessDeniedException' ? 'unauthorized' : 'unavailable',
      hint: 'the key needs ecr:DescribeRepositories, or list the repositories to poll when connecting the registry',
    });
  } finally {
    client.destroy();
  }
  return names;
}
