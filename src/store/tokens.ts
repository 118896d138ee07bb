import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { PalisadeError, randomIds, SCOPE_NAME_HINT, SCOPE_NAME_SOURCE, sha256Hex, type Clock, systemClock } from '../core/index.js';
import type { Database } from './schema.js';

/** `admin`, `cluster:NAME` (audit webhook, agents, admission) or `registry:NAME` (registry webhooks). */
export type TokenScope = 'admin' | `cluster:${string}` | `registry:${string}`;

const SCOPE_PATTERN = new RegExp(`^(admin|(cluster|registry):${SCOPE_NAME_SOURCE})$`);
const TOKEN_PREFIX = 'pal_';

export function parseTokenScope(value: string): TokenScope {
  if (!SCOPE_PATTERN.test(value)) {
    throw new PalisadeError('token.scope', `invalid token scope '${value}'`, {
      field: 'scope',
      hint: `use admin, cluster:NAME or registry:NAME (NAME: ${SCOPE_NAME_HINT})`,
    });
  }
  return value as TokenScope;
}

export interface TokenInfo {
  id: string;
  name: string;
  scope: TokenScope;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface CreatedToken extends TokenInfo {
  /** The secret, returned once at creation; only its hash is stored. */
  secret: string;
}

export async function createToken(db: Kysely<Database>, scope: TokenScope, name: string = scope, clock: Clock = systemClock): Promise<CreatedToken> {
  const secret = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const row = {
    id: randomIds.next('tok_'),
    name,
    scope,
    hash: sha256Hex(secret),
    prefix: secret.slice(0, TOKEN_PREFIX.length + 6),
    created_at: clock.now(),
  };
  await db.insertInto('tokens').values(row).execute();
  return { id: row.id, name, scope, prefix: row.prefix, createdAt: row.created_at, lastUsedAt: null, revokedAt: null, secret };
}

/** The token's info when the secret is valid and not revoked, else undefined. */
export async function verifyToken(db: Kysely<Database>, secret: string): Promise<TokenInfo | undefined> {
  if (!secret.startsWith(TOKEN_PREFIX) || secret.length > 128) return undefined;
  const row = await db.selectFrom('tokens').selectAll().where('hash', '=', sha256Hex(secret)).where('revoked_at', 'is', null).executeTakeFirst();
  return row ? toInfo(row) : undefined;
}

export async function touchToken(db: Kysely<Database>, id: string, at: Date): Promise<void> {
  await db.updateTable('tokens').set({ last_used_at: at }).where('id', '=', id).execute();
}

export async function listTokens(db: Kysely<Database>): Promise<TokenInfo[]> {
  const rows = await db.selectFrom('tokens').selectAll().orderBy('created_at').orderBy('id').execute();
  return rows.map(toInfo);
}

export async function revokeToken(db: Kysely<Database>, idOrPrefix: string, clock: Clock = systemClock): Promise<TokenInfo> {
  const rows = await db.selectFrom('tokens').selectAll()
    .where((eb) => eb.or([eb('id', '=', idOrPrefix), eb('prefix', '=', idOrPrefix)]))
    .execute();
  if (rows.length !== 1) {
    throw new PalisadeError('token.not_found', rows.length ? `'${idOrPrefix}' matches ${rows.length} tokens` : `no token '${idOrPrefix}'`, {
      kind: rows.length ? 'conflict' : 'not-found',
      hint: 'use the token id shown by `palisade token list`',
    });
  }
  const revokedAt = clock.now();
  await db.updateTable('tokens').set({ revoked_at: revokedAt }).where('id', '=', rows[0]!.id).where('revoked_at', 'is', null).execute();
  return { ...toInfo(rows[0]!), revokedAt: rows[0]!.revoked_at ?? revokedAt };
}

export async function hasActiveAdminToken(db: Kysely<Database>): Promise<boolean> {
  const row = await db.selectFrom('tokens').select('id').where('scope', '=', 'admin').where('revoked_at', 'is', null).executeTakeFirst();
  return row !== undefined;
}

/**
 * The first start's admin token: created only when no active admin token exists. Servers started
 * together on one empty database (replicas) serialise on an advisory lock, so exactly one of them
 * creates, and prints, the token.
 */
export async function createInitialAdminToken(db: Kysely<Database>, clock: Clock = systemClock): Promise<CreatedToken | undefined> {
  return db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtext('palisade.initial-admin-token'))`.execute(tx);
    if (await hasActiveAdminToken(tx)) return undefined;
    return createToken(tx, 'admin', 'initial admin', clock);
  });
}

function toInfo(row: { id: string; name: string; scope: string; prefix: string; created_at: Date; last_used_at: Date | null; revoked_at: Date | null }): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    scope: row.scope as TokenScope,
    prefix: row.prefix,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}
