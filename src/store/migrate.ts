import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { PalisadeError } from '../core/index.js';

const MIGRATIONS_DIR = path.join(import.meta.dirname, 'migrations');

/**
 * Migrations are discovered from the migrations folder (each capability adds its own
 * file in its number range) and run in name order.
 */
class FolderMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {};
    for (const file of await migrationFiles()) {
      migrations[migrationName(file)] = (await import(pathToFileURL(file).href)) as Migration;
    }
    return migrations;
  }
}

/** The migration files' paths, in name order: with their contents they identify a schema. */
export async function migrationFiles(): Promise<string[]> {
  return (await readdir(MIGRATIONS_DIR))
    .filter((f) => /^\d{4}_[\w-]+\.(ts|js)$/.test(f) && !f.endsWith('.d.ts') && !f.includes('.test.'))
    .sort()
    .map((f) => path.join(MIGRATIONS_DIR, f));
}

function migrationName(file: string): string {
  return path.basename(file).replace(/\.(ts|js)$/, '');
}

/** The migrations this version ships, by name (read from the folder, without loading them). */
export async function knownMigrations(): Promise<string[]> {
  return (await migrationFiles()).map(migrationName);
}

/** Brings the schema up to date and returns the migrations it applied; refuses a database written by a newer Palisade. */
export async function migrateToLatest(db: Kysely<any>, where: string): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: new FolderMigrationProvider(),
    migrationTableName: 'palisade_migrations',
    migrationLockTableName: 'palisade_migrations_lock',
    // Each capability numbers its migrations in its own range, so a release can add 0730 to a
    // database that already ran 0810: apply whatever has not run yet, in name order.
    allowUnorderedMigrations: true,
  });
  const known = new Set(await knownMigrations());
  const executed = await executedMigrationNames(db);
  // A migration we have never heard of means a newer Palisade wrote this database: say so before Kysely refuses cryptically.
  const newer = executed.filter((name) => !known.has(name));
  if (newer.length) {
    throw new PalisadeError('store.newer_version', `${where} was written by a newer version of Palisade (unknown migrations: ${newer.join(', ')})`, {
      kind: 'conflict',
      hint: 'upgrade Palisade, or point PALISADE_DATA_DIR / PALISADE_DATABASE_URL at another database',
    });
  }
  // Every start after the first: nothing to apply, and the migrator's locking round trips and the
  // loading of every migration module (over a second on a loaded machine) are skipped.
  const done = new Set(executed);
  if ([...known].every((name) => done.has(name))) return [];
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new PalisadeError('store.migration_failed', `migration ${failed?.migrationName ?? '?'} failed on ${where}: ${(error as Error).message}`, {
      kind: 'internal',
      hint: 'nothing was changed by the failed migration (it ran in a transaction)',
      cause: error,
    });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

async function executedMigrationNames(db: Kysely<any>): Promise<string[]> {
  try {
    const rows = await db.selectFrom('palisade_migrations').select('name').execute();
    return rows.map((r: { name: string }) => r.name);
  } catch {
    return []; // a fresh database has no migration table yet
  }
}

/** True when every known migration has run: part of /readyz. */
export async function isMigrated(db: Kysely<any>): Promise<boolean> {
  const executed = new Set(await executedMigrationNames(db));
  return (await knownMigrations()).every((name) => executed.has(name));
}
