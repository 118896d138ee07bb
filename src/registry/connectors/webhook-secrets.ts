import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { PalisadeError, seal, unseal } from '../../core/index.js';
import type { Database } from '../../store/index.js';

interface RegistryWebhookSecretTable {
  registry: string;
  secret: string;
}

declare module '../../store/schema.js' {
  interface Database {
    registry_webhook_secrets: RegistryWebhookSecretTable;
  }
}

const PURPOSE = 'palisade:registry-webhook-secret';

/** A fresh signing secret for a registry that signs its webhooks (Nexus): 32 random bytes, base64url. */
export function newWebhookSecret(): string {
  return randomBytes(32).toString('base64url');
}

function keyOf(secretKey: string | undefined): string {
  if (!secretKey) {
    throw new PalisadeError('registry.secret_key', 'checking signed registry webhooks needs PALISADE_SECRET_KEY (the signing secret is stored sealed)', {
      field: 'webhookSecret',
      hint: 'set PALISADE_SECRET_KEY (32+ random characters) on the server',
    });
  }
  return secretKey;
}

/** Stores (or replaces) the registry's webhook signing secret, sealed. */
export async function storeWebhookSecret(db: Kysely<Database>, registry: string, secret: string, secretKey: string | undefined): Promise<void> {
  const sealed = seal(keyOf(secretKey), PURPOSE, secret);
  await db.insertInto('registry_webhook_secrets').values({ registry, secret: sealed })
    .onConflict((oc) => oc.column('registry').doUpdateSet({ secret: sealed })).execute();
}

/** The registry's webhook signing secret, or undefined when it has none. */
export async function webhookSecretOf(db: Kysely<Database>, registry: string, secretKey: string | undefined): Promise<string | undefined> {
  const row = await db.selectFrom('registry_webhook_secrets').select('secret').where('registry', '=', registry).executeTakeFirst();
  if (!row) return undefined;
  try {
    return unseal(keyOf(secretKey), PURPOSE, row.secret);
  } catch (error) {
    if (error instanceof PalisadeError) throw error;
    throw new PalisadeError('registry.webhook_secret', `cannot open the stored webhook secret of ${registry}: PALISADE_SECRET_KEY differs from the key it was sealed with`, { kind: 'unprocessable' });
  }
}
