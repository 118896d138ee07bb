import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { PalisadeError, sha256Hex, type Clock, systemClock } from '../core/index.js';
import { verifyToken, type Database } from '../store/index.js';
import { findUser, verifyPassword, type Role } from './users.js';

/**
 * Dashboard sessions: a random secret in an httpOnly cookie (only its hash is stored) and a
 * CSRF token the page sends back in a header on every state-changing request. Sign-in failures
 * are counted per account (and per client address for admin-token sign-ins) and lock out.
 */
export interface SessionTable {
  hash: string;
  /** `user:NAME` or `token:ID` (signed in with the admin token). */
  subject: string;
  role: string;
  csrf: string;
  created_at: Date;
  expires_at: Date;
}

export interface SignInFailureTable {
  key: string;
  failures: number;
  first_at: Date;
  locked_until: Date | null;
}

declare module '../store/schema.js' {
  interface Database {
    sessions: SessionTable;
    sign_in_failures: SignInFailureTable;
  }
}

export interface Session {
  subject: string;
  role: Role;
  csrf: string;
  expiresAt: Date;
}

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
export const MAX_FAILURES = 5;
export const FAILURE_WINDOW_MS = 15 * 60 * 1000;
export const LOCKOUT_MS = 15 * 60 * 1000;

export type Credentials = { user: string; password: string } | { token: string };

/** Checks credentials and opens a session; returns the cookie secret and the session. */
export async function signIn(db: Kysely<Database>, credentials: Credentials, client: { ip: string }, clock: Clock = systemClock): Promise<{ secret: string; session: Session }> {
  const key = 'user' in credentials ? `user:${credentials.user.toLowerCase()}` : `token-from:${client.ip}`;
  const now = clock.now();
  await refuseWhileLocked(db, key, now);

  let subject: string | undefined;
  let role: Role | undefined;
  if ('user' in credentials) {
    const user = await findUser(db, credentials.user);
    // Hash even for unknown users, so response time does not reveal which names exist.
    const ok = await verifyPassword(credentials.password, user?.passwordHash ?? DUMMY_HASH);
    if (user && ok) {
      subject = `user:${user.name}`;
      role = user.role;
      await db.updateTable('users').set({ last_sign_in_at: now }).where('id', '=', user.id).execute();
    }
  } else {
    const token = await verifyToken(db, credentials.token);
    if (token?.scope === 'admin') {
      subject = `token:${token.id}`;
      role = 'admin';
    }
  }
  if (!subject || !role) {
    await countFailure(db, key, now);
    throw new PalisadeError('sign_in.failed', 'wrong user name, password or token', { kind: 'unauthorized' });
  }
  await db.deleteFrom('sign_in_failures').where('key', '=', key).execute();
  const secret = randomBytes(32).toString('base64url');
  const session: Session = { subject, role, csrf: randomBytes(24).toString('base64url'), expiresAt: new Date(now.getTime() + SESSION_TTL_MS) };
  await db.insertInto('sessions').values({ hash: sha256Hex(secret), subject, role, csrf: session.csrf, created_at: now, expires_at: session.expiresAt }).execute();
  // Expired sessions are removed on the way, so the table stays small without a job.
  await db.deleteFrom('sessions').where('expires_at', '<', now).execute();
  return { secret, session };
}

export async function resolveSession(db: Kysely<Database>, secret: string, clock: Clock = systemClock): Promise<Session | undefined> {
  if (secret.length > 100) return undefined;
  const row = await db.selectFrom('sessions').selectAll().where('hash', '=', sha256Hex(secret)).where('expires_at', '>', clock.now()).executeTakeFirst();
  if (!row) return undefined;
  // A session opened with the admin token ends when that token is revoked.
  if (row.subject.startsWith('token:')) {
    const token = await db.selectFrom('tokens').select('id').where('id', '=', row.subject.slice('token:'.length)).where('revoked_at', 'is', null).executeTakeFirst();
    if (!token) return undefined;
  }
  return { subject: row.subject, role: row.role as Role, csrf: row.csrf, expiresAt: row.expires_at };
}

export async function endSession(db: Kysely<Database>, secret: string): Promise<void> {
  await db.deleteFrom('sessions').where('hash', '=', sha256Hex(secret)).execute();
}

async function refuseWhileLocked(db: Kysely<Database>, key: string, now: Date): Promise<void> {
  const row = await db.selectFrom('sign_in_failures').selectAll().where('key', '=', key).executeTakeFirst();
  if (row?.locked_until && row.locked_until > now) {
    const minutes = Math.ceil((row.locked_until.getTime() - now.getTime()) / 60_000);
    throw new PalisadeError('sign_in.locked', `too many failed sign-ins; try again in ${minutes} minute${minutes === 1 ? '' : 's'}`, {
      kind: 'forbidden',
      hint: 'an admin can reset the password meanwhile',
    });
  }
}

async function countFailure(db: Kysely<Database>, key: string, now: Date): Promise<void> {
  const row = await db.selectFrom('sign_in_failures').selectAll().where('key', '=', key).executeTakeFirst();
  const fresh = !row || now.getTime() - row.first_at.getTime() > FAILURE_WINDOW_MS || (row.locked_until !== null && row.locked_until <= now);
  const failures = fresh ? 1 : row.failures + 1;
  const lockedUntil = failures >= MAX_FAILURES ? new Date(now.getTime() + LOCKOUT_MS) : null;
  await db.insertInto('sign_in_failures').values({ key, failures, first_at: fresh ? now : row.first_at, locked_until: lockedUntil })
    .onConflict((oc) => oc.column('key').doUpdateSet({ failures, first_at: fresh ? now : row!.first_at, locked_until: lockedUntil }))
    .execute();
}

// A valid scrypt hash of a random password nobody knows, for unknown user names.
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$7m9S0gq2CJvN8pLJx1wCw5e7x3a2Yf6m5H4dQk1uU0s';
