import { PalisadeError, systemClock, type Clock } from '../../core/index.js';
import type { JobDefinition } from '../../jobs/index.js';
import type { Store } from '../../store/index.js';
import { openCredentials, sealCredentials, type RegistryLogin } from '../credentials.js';
import { ecrSdk } from './ecr-sdk.js';

export const ECR_LOGIN_QUEUE = 'registry-ecr-login';
/** ECR tokens last 12 hours; one is renewed once less than this is left. */
export const ECR_RENEW_BEFORE_MS = 6 * 3_600_000;

/** `ACCOUNT.dkr.ecr.REGION.amazonaws.com` (or `.amazonaws.com.cn`): the private registry's account and region. */
export function ecrLocation(url: string): { accountId: string; region: string } | undefined {
  const match = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?$/.exec(new URL(url).hostname);
  return match ? { accountId: match[1]!, region: match[2]! } : undefined;
}

/** What is sealed for an ECR registry: the pull login scans use, and the AWS keys that renew it. */
export interface EcrLogin extends RegistryLogin {
  aws: { accessKeyId: string; secretAccessKey: string };
  /** When the pull password stops working (ms since the epoch). */
  expiresAt?: number;
}

/**
 * ECR's GetAuthorizationToken through the AWS SDK (signed with the user's keys, sent to the
 * region's ECR API): the token is base64 of `AWS:PASSWORD`, the basic-auth login Docker clients
 * use. `endpoint` replaces the AWS API endpoint (tests: a loopback server).
 */
export async function ecrPullLogin(keys: EcrLogin['aws'], location: { accountId: string; region: string }, options: { endpoint?: string; clock?: Clock } = {}): Promise<{ username: string; password: string; expiresAt: number }> {
  // A copy: the SDK marks the credentials object it is given (`$source`), which would then be sealed.
  const { ECRClient, GetAuthorizationTokenCommand } = ecrSdk();
  const client = new ECRClient({ region: location.region, credentials: { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey }, maxAttempts: 2, ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
  try {
    const answer = await client.send(new GetAuthorizationTokenCommand({}));
    const data = answer.authorizationData?.[0];
    const decoded = data?.authorizationToken ? Buffer.from(data.authorizationToken, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new PalisadeError('registry.ecr.token', 'ECR GetAuthorizationToken returned no authorization token', { kind: 'unavailable' });
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), expiresAt: data?.expiresAt?.getTime() ?? (options.clock ?? systemClock).now().getTime() + 12 * 3_600_000 };
  } catch (error) {
    if (error instanceof PalisadeError) throw error;
    const name = (error as { name?: string }).name ?? 'Error';
    // The SDK's message never includes the keys; its error name says what AWS refused.
    throw new PalisadeError('registry.ecr.login', `ECR GetAuthorizationToken in ${location.region} failed: ${name}`, {
      kind: name === 'UnrecognizedClientException' || name === 'AccessDeniedException' || name === 'InvalidSignatureException' ? 'unauthorized' : 'unavailable',
      hint: 'connect the ECR registry with an access key id as username and its secret as password; the key needs ecr:GetAuthorizationToken',
    });
  } finally {
    client.destroy();
  }
}

/**
 * Renews the pull login of every ECR registry whose token is missing or expires within
 * ECR_RENEW_BEFORE_MS. A registry connected with `--username ACCESS_KEY_ID --password-stdin` (the
 * secret) has its keys kept, sealed, beside the token; scans then pull with the token as any
 * registry's login. `only` limits it to one registry (its first webhook). Returns the registries renewed.
 */
export async function renewEcrLogins(context: { store: Store; clock: Clock; secretKey: string | undefined; endpoint?: string }, only?: string): Promise<string[]> {
  let query = context.store.db.selectFrom('registries').select(['name', 'url', 'credentials']).where('kind', '=', 'ecr').where('credentials', 'is not', null);
  if (only !== undefined) query = query.where('name', '=', only);
  const registries = await query.execute();
  const renewed: string[] = [];
  const failed: string[] = [];
  for (const registry of registries) {
    const location = ecrLocation(registry.url);
    if (!location) continue; // not a private ECR host: its login is used as given
    try {
      const login = openCredentials(context.secretKey, registry.credentials!) as Partial<EcrLogin> & RegistryLogin;
      const now = context.clock.now().getTime();
      if (login.aws && login.expiresAt !== undefined && login.expiresAt - now > ECR_RENEW_BEFORE_MS) continue;
      const aws = login.aws ? { accessKeyId: login.aws.accessKeyId, secretAccessKey: login.aws.secretAccessKey } : { accessKeyId: login.username, secretAccessKey: login.password };
      const fresh = await ecrPullLogin(aws, location, context.endpoint ? { endpoint: context.endpoint } : {});
      const sealed = sealCredentials(context.secretKey, { username: fresh.username, password: fresh.password, ...(login.tokenRealms ? { tokenRealms: login.tokenRealms } : {}), aws, expiresAt: fresh.expiresAt } as EcrLogin);
      await context.store.db.updateTable('registries').set({ credentials: sealed }).where('name', '=', registry.name).execute();
      renewed.push(registry.name);
    } catch (error) {
      // One registry's refused keys must not keep the others' tokens from being renewed.
      failed.push(`${registry.name}: ${error instanceof PalisadeError ? error.toLine() : 'internal error'}`);
    }
  }
  if (failed.length) throw new PalisadeError('registry.ecr.renew', `ECR logins not renewed (${renewed.length} renewed): ${failed.join('; ')}`, { kind: 'unavailable' });
  return renewed;
}

/** Every 15 minutes: a registry connected a minute ago gets its first token within 15 minutes; a token is renewed 6 hours before it expires. */
export function ecrLoginJob(context: { store: Store; clock: Clock; secretKey: string | undefined }, cron = '*/15 * * * *'): JobDefinition<object> {
  return { queue: ECR_LOGIN_QUEUE, cron, retryLimit: 3, policy: 'short', handler: async () => ({ renewed: await renewEcrLogins(context) }) };
}
