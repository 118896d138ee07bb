import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { PalisadeError, sha256Hex, type Clock, systemClock } from '../core/index.js';
import { verifyToken, type Database } from '../store/index.js';
import { findUser, verifyPassword, type Role } from './users.js';

/**
 * Dashboard sessions: a random secret in an httpOnly cookie (only its hash is stored) and a
 * CSRF token the page sends back in a header on every state-changing request.
 *
 * Failed sign-ins slow down, they never lock out: each failure is counted under three keys, the
 * user at that address, the user anywhere, and the address (admin-token sign-ins: the address
 * only), and past a few free failures each key makes the next attempt wait twice as long as the
 * last, up to its cap. A guesser at another address waits up to 15 minutes per try, while the real
 * user at their own address waits at most {@link USER_CAP_MS} however hard the account is attacked.
 * Attempts refused for waiting are not counted, and the counts are forgotten after an hour of quiet.
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
  /** `pair:USER@ADDRESS`, `user:USER`, `address:ADDRESS` or `token-from:ADDRESS`. */
  key: string;
  failures: number;
  first_at: Date;
  /** The next attempt under this key is allowed from then (the column predates back-off). */
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
/** The first wait; each further failure doubles it. */
export const BASE_DELAY_MS = 1000;
/** The user anywhere: the longest the real user can be made to wait by someone else's guesses. */
export const USER_CAP_MS = 60 * 1000;
export const ADDRESS_CAP_MS = 15 * 60 * 1000;
/** Counts are forgotten after this long without a failure. */
export const FORGET_AFTER_MS = 60 * 60 * 1000;

interface BackOff { key: string; free: number; capMs: number }

/** The keys a sign-in is counted under, with the failures each allows before waiting. */
function backOffKeys(credentials: Credentials, address: string): BackOff[] {
  // Admin-token guesses have no user to key on; a token is random, so few honest failures happen.
  if (!('user' in credentials)) return [{ key: `token-from:${address}`, free: 3, capMs: ADDRESS_CAP_MS }];
  const byAddress = { key: `address:${address}`, free: 10, capMs: ADDRESS_CAP_MS };
  const user = credentials.user.toLowerCase();
  return [
    { key: `pair:${user}@${address}`, free: 3, capMs: ADDRESS_CAP_MS },
    { key: `user:${user}`, free: 5, capMs: USER_CAP_MS },
    byAddress,
  ];
}

export function backOffDelayMs(failures: number, free: number, capMs: number): number {
  if (failures <= free) return 0;
  return Math.min(capMs, BASE_DELAY_MS * 2 ** Math.min(failures - free - 1, 30));
}

/** A sign-in refused because the last ones failed: retry after `retryAfterSeconds`. */
export class SignInSlowedDown extends PalisadeError {
  constructor(readonly retryAfterSeconds: number) {
    super('sign_in.slow_down', `too many failed sign-ins; try again in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}`, {
      kind: 'forbidden',
      hint: 'each failure doubles the wait; a correct sign-in after the wait works, and an admin can reset the password meanwhile',
    });
  }
}

export type Credentials = { user: string; password: string } | { token: string };

/**
 * Attempts being checked per address (this process). Counts are written after the password
 * check, so without this a burst of parallel guesses would all pass the wait check at once.
 */
const MAX_IN_FLIGHT_PER_ADDRESS = 4;
const inFlight = new Map<string, number>();

/** Checks credentials and opens a session; returns the cookie secret and the session. */
export async function signIn(db: Kysely<Database>, credentials: Credentials, client: { ip: string }, clock: Clock = systemClock): Promise<{ secret: string; session: Session }> {
  const running = inFlight.get(client.ip) ?? 0;
  if (running >= MAX_IN_FLIGHT_PER_ADDRESS) throw new SignInSlowedDown(1);
  inFlight.set(client.ip, running + 1);
  try {
    return await checkAndOpen(db, credentials, client, clock);
  } finally {
    const left = (inFlight.get(client.ip) ?? 1) - 1;
    if (left > 0) inFlight.set(client.ip, left); else inFlight.delete(client.ip);
  }
}

async function checkAndOpen(db: Kysely<Database>, credentials: Credentials, client: { ip: string }, clock: Clock): Promise<{ secret: string; session: Session }> {
  const keys = backOffKeys(credentials, client.ip);
  const now = clock.now();
  await refuseWhileSlowedDown(db, keys, now);

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
    for (const key of keys) await countFailure(db, key, now);
    throw new PalisadeError('sign_in.failed', 'wrong user name, password or token', { kind: 'unauthorized' });
  }
  // The address keeps its count: one success must not reset a spray across other accounts.
  const forgiven = keys.filter((k) => !k.key.startsWith('address:')).map((k) => k.key);
  if (forgiven.length) await db.deleteFrom('sign_in_failures').where('key', 'in', forgiven).execute();
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

async function refuseWhileSlowedDown(db: Kysely<Database>, keys: BackOff[], now: Date): Promise<void> {
  const rows = await db.selectFrom('sign_in_failures').select('locked_until').where('key', 'in', keys.map((k) => k.key)).execute();
  const until = Math.max(0, ...rows.map((r) => r.locked_until?.getTime() ?? 0));
  if (until > now.getTime()) throw new SignInSlowedDown(Math.ceil((until - now.getTime()) / 1000));
}

async function countFailure(db: Kysely<Database>, { key, free, capMs }: BackOff, now: Date): Promise<void> {
  const row = await db.selectFrom('sign_in_failures').selectAll().where('key', '=', key).executeTakeFirst();
  const lastActive = row ? Math.max(row.first_at.getTime(), row.locked_until?.getTime() ?? 0) : 0;
  const fresh = !row || now.getTime() - lastActive > FORGET_AFTER_MS;
  const failures = fresh ? 1 : row.failures + 1;
  const delay = backOffDelayMs(failures, free, capMs);
  // Without a wait yet, the next-allowed time still records when this streak was last active.
  const nextAllowed = delay ? new Date(now.getTime() + delay) : now;
  const firstAt = fresh ? now : row.first_at;
  await db.insertInto('sign_in_failures').values({ key, failures, first_at: firstAt, locked_until: nextAllowed })
    .onConflict((oc) => oc.column('key').doUpdateSet({ failures, first_at: firstAt, locked_until: nextAllowed }))
    .execute();
}

// A valid scrypt hash of a random password nobody knows, for unknown user names.
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$7m9S0gq2CJvN8pLJx1wCw5e7x3a2Yf6m5H4dQk1uU0s';
