import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Kysely } from 'kysely';
import { PalisadeError, randomIds, type Clock, systemClock } from '../core/index.js';
import type { Database } from '../store/index.js';

/** Dashboard users, created by an admin. Readers see everything and change nothing. */
export type Role = 'admin' | 'reader';
export const ROLES: readonly Role[] = ['admin', 'reader'];

export interface UserTable {
  id: string;
  name: string;
  role: string;
  /** `scrypt$N$r$p$salt$hash`, base64url parts. */
  password_hash: string;
  created_at: Date;
  last_sign_in_at: Date | null;
  disabled_at: Date | null;
}

declare module '../store/schema.js' {
  interface Database {
    users: UserTable;
  }
}

export interface User {
  id: string;
  name: string;
  role: Role;
  createdAt: Date;
  lastSignInAt: Date | null;
}

const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,63}$/;
export const MIN_PASSWORD_LENGTH = 12;
// OWASP's scrypt floor (N=2^17, r=8, p=1) costs 128 MiB per hash; 2^15 keeps a sign-in near 50 ms
// on these 2-core machines while staying well above interactive-login minimums.
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, keylen: 32 } as const;

function scryptAsync(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, keylen, options, (error, key) => (error ? reject(error) : resolve(key))));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 256 * SCRYPT.N * SCRYPT.r });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const N = Number(n);
  const R = Number(r);
  const key = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, { N, r: R, p: Number(p), maxmem: 256 * N * R });
  return timingSafeEqual(key, expected);
}

export function parseRole(value: string): Role {
  if (!(ROLES as readonly string[]).includes(value)) {
    throw new PalisadeError('user.role', `invalid role '${value}'`, { field: 'role', hint: 'use admin or reader' });
  }
  return value as Role;
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new PalisadeError('user.password', `passwords need at least ${MIN_PASSWORD_LENGTH} characters`, { field: 'password', hint: 'use a longer passphrase' });
  }
}

export async function createUser(db: Kysely<Database>, input: { name: string; role: Role; password: string }, clock: Clock = systemClock): Promise<User> {
  if (!NAME_PATTERN.test(input.name)) {
    throw new PalisadeError('user.name', `invalid user name '${input.name}'`, { field: 'name', hint: 'letters, digits, . _ @ - (up to 64)' });
  }
  checkPassword(input.password);
  const existing = await db.selectFrom('users').select('id').where('name', '=', input.name).executeTakeFirst();
  if (existing) throw new PalisadeError('user.exists', `a user named '${input.name}' exists`, { kind: 'conflict', field: 'name' });
  const row = { id: randomIds.next('usr_'), name: input.name, role: input.role, password_hash: await hashPassword(input.password), created_at: clock.now() };
  await db.insertInto('users').values(row).execute();
  return { id: row.id, name: row.name, role: input.role, createdAt: row.created_at, lastSignInAt: null };
}

export async function listUsers(db: Kysely<Database>): Promise<User[]> {
  const rows = await db.selectFrom('users').selectAll().where('disabled_at', 'is', null).orderBy('name').execute();
  return rows.map(toUser);
}

export async function findUser(db: Kysely<Database>, name: string): Promise<(User & { passwordHash: string }) | undefined> {
  const row = await db.selectFrom('users').selectAll().where('name', '=', name).where('disabled_at', 'is', null).executeTakeFirst();
  return row ? { ...toUser(row), passwordHash: row.password_hash } : undefined;
}

export async function updateUser(db: Kysely<Database>, id: string, change: { role?: Role; password?: string }): Promise<User> {
  const set: Partial<UserTable> = {};
  if (change.role) set.role = change.role;
  if (change.password !== undefined) {
    checkPassword(change.password);
    set.password_hash = await hashPassword(change.password);
  }
  if (Object.keys(set).length) {
    await db.transaction().execute(async (tx) => {
      const user = await tx.updateTable('users').set(set).where('id', '=', id).where('disabled_at', 'is', null).returning('name').executeTakeFirst();
      // A new role or password takes effect now: the user's open sessions end.
      if (user) await tx.deleteFrom('sessions').where('subject', '=', `user:${user.name}`).execute();
    });
  }
  const row = await db.selectFrom('users').selectAll().where('id', '=', id).where('disabled_at', 'is', null).executeTakeFirst();
  if (!row) throw new PalisadeError('user.not_found', `no user ${id}`, { kind: 'not-found' });
  return toUser(row);
}

/** Removes a user and ends their sessions. */
export async function deleteUser(db: Kysely<Database>, id: string, clock: Clock = systemClock): Promise<User> {
  const row = await db.selectFrom('users').selectAll().where('id', '=', id).where('disabled_at', 'is', null).executeTakeFirst();
  if (!row) throw new PalisadeError('user.not_found', `no user ${id}`, { kind: 'not-found' });
  await db.transaction().execute(async (tx) => {
    await tx.updateTable('users').set({ disabled_at: clock.now() }).where('id', '=', id).execute();
    await tx.deleteFrom('sessions').where('subject', '=', `user:${row.name}`).execute();
  });
  return toUser(row);
}

function toUser(row: UserTable): User {
  return { id: row.id, name: row.name, role: row.role as Role, createdAt: row.created_at, lastSignInAt: row.last_sign_in_at };
}
