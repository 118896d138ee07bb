import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openStore, type OpenOptions, type Store, type StoreLocation } from '../../src/store/index.js';
import { createTestPostgres, postgresAvailable } from './postgres.js';

/**
 * The temporary stores tests open: the embedded default (PGlite in a fresh temporary directory)
 * or a database of its own on the real PostgreSQL (test/support/postgres.ts). One place for what
 * about twenty test files used to write by hand, cleanup included.
 */
export type StoreBackend = 'pglite' | 'postgres';

/** Both backends, for `describe.each(STORE_BACKENDS)`: a suite that must hold on either one. */
export const STORE_BACKENDS: readonly StoreBackend[] = ['pglite', 'postgres'];

export interface TestStoreLocation {
  backend: StoreBackend;
  /** What openStore takes: reopen it to test a restart. */
  location: StoreLocation;
  /** A temporary directory of the test's own, removed by cleanup (the PGlite data lives in `dir/data`). */
  dir: string;
  /** Removes the directory and drops the PostgreSQL database; close stores opened on it first. */
  cleanup(): Promise<void>;
}

export interface TestStore extends TestStoreLocation {
  store: Store;
  /** Closes the store, then cleans up; safe to call twice. */
  close(): Promise<void>;
}

export interface TestStoreOptions extends OpenOptions {
  backend?: StoreBackend;
  /** Names the temporary directory (`palisade-NAME-…`), to tell leftovers apart. */
  name?: string;
}

/** A place for a store, not yet opened; PostgreSQL must be reachable (see postgresAvailable). */
export async function createTestStoreLocation(options: Pick<TestStoreOptions, 'backend' | 'name'> = {}): Promise<TestStoreLocation> {
  const backend = options.backend ?? 'pglite';
  const dir = await mkdtemp(path.join(os.tmpdir(), `palisade-${options.name ?? 'store'}-`));
  const removeDir = () => rm(dir, { recursive: true, force: true });
  if (backend === 'pglite') {
    return { backend, location: { dataDir: path.join(dir, 'data') }, dir, cleanup: removeDir };
  }
  try {
    const database = await createTestPostgres();
    return { backend, location: { databaseUrl: database.url }, dir, cleanup: async () => { await database.drop(); await removeDir(); } };
  } catch (error) {
    await removeDir();
    throw error;
  }
}

/** A migrated store (unless `migrate: false`) on a fresh temporary location. */
export async function createTestStore(options: TestStoreOptions = {}): Promise<TestStore> {
  const { backend, name, ...open } = options;
  const place = await createTestStoreLocation({ backend, name });
  let store: Store;
  try {
    store = await openStore(place.location, open);
  } catch (error) {
    await place.cleanup();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    ...place,
    store,
    close: () => (closing ??= store.close().finally(() => place.cleanup())),
  };
}

/**
 * Like createTestStore, but undefined when the backend is PostgreSQL and none is reachable here
 * (postgresAvailable throws instead in CI): the suite then skips its PostgreSQL half.
 */
export async function createTestStoreIfAvailable(options: TestStoreOptions = {}): Promise<TestStore | undefined> {
  if (options.backend === 'postgres' && !(await postgresAvailable())) return undefined;
  return createTestStore(options);
}
