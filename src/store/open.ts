import { mkdir, open as openFile, readFile, rm, access, constants } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import type { PGlite, PGliteOptions } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql, type LogEvent } from 'kysely';
import { isProcessAlive, PalisadeError } from '../core/index.js';
import { CorruptionWatch } from './corruption.js';
import { migrateToLatest } from './migrate.js';
import { ConnectionLock, executeOnPglite, PgliteDialect } from './pglite-dialect.js';
import type { Database } from './schema.js';
import { seedFromTemplate } from './template.js';

export type StoreLocation = { dataDir: string; databaseUrl?: undefined } | { databaseUrl: string; dataDir?: undefined };

/** Plain SQL access for pg-boss, which brings its own SQL (its `db` option). */
export interface SqlExecutor {
  // pg-boss reads its own rows; their shape is its business.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  executeSql(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

export interface Store {
  db: Kysely<Database>;
  kind: 'pglite' | 'postgres';
  /** Where the data lives, for messages (a URL without its password, or a directory). */
  where: string;
  sql: SqlExecutor;
  /** For PostgreSQL: the connection string, so pg-boss can open its own pool. */
  databaseUrl?: string;
  /** Data corruption (XX001/XX002) seen by any query: readiness and the API report it. */
  corruption: CorruptionWatch;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  /** Connections in the PostgreSQL pool (default 10). */
  poolSize?: number;
}

export async function openStore(location: StoreLocation, options: OpenOptions = {}): Promise<Store> {
  const store = location.databaseUrl ? await openPostgres(location.databaseUrl, options) : await openPglite(location.dataDir!);
  if (options.migrate !== false) {
    try {
      await migrateToLatest(store.db, store.where);
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  return store;
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable database URL)';
  }
}

async function openPostgres(databaseUrl: string, options: OpenOptions): Promise<Store> {
  const where = redactUrl(databaseUrl);
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new PalisadeError('config.database_url', `PALISADE_DATABASE_URL must start with postgres:// (got ${where})`, {
      field: 'databaseUrl',
      hint: 'for example postgres://postgres@127.0.0.1:5432/palisade',
    });
  }
  // query_timeout bounds a query whose connection died without telling (client side; long imports run in chunks).
  // The drivers are loaded when a store is opened, not when this module is: commands that never
  // open one (a one-shot scan, `--version`) do not pay for loading them.
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.poolSize ?? 10, connectionTimeoutMillis: 5000, query_timeout: 300_000 });
  // An idle client losing its server (a restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => {});
    throw new PalisadeError('store.unreachable', `cannot connect to PostgreSQL at ${where}: ${(error as Error).message}`, {
      kind: 'unavailable',
      field: 'databaseUrl',
      hint: 'check PALISADE_DATABASE_URL, that the server runs and that the database exists',
      cause: error,
    });
  }
  const { corruption, log } = watchCorruption('postgres', () => db);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log });
  return {
    db,
    kind: 'postgres',
    where,
    databaseUrl,
    corruption,
    sql: { executeSql: (text, values) => noting(corruption, pool.query(text, values as unknown[])) },
    close: () => db.destroy(), // ends the pool
  };
}

/** The embedded default: PGlite in a directory, one process at a time. */
async function openPglite(dataDir: string): Promise<Store> {
  const compiling = compilePostgres();
  compiling.catch(() => {}); // awaited once the directory is locked; a refusal before that comes first
  const dir = path.resolve(dataDir);
  const pgdata = path.join(dir, 'pgdata');
  await mkdir(pgdata, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    throw unwritable(dir, error);
  });
  await access(dir, constants.W_OK).catch((error: NodeJS.ErrnoException) => {
    throw unwritable(dir, error);
  });
  const releaseDirLock = await lockDataDir(dir);
  const releaseEventLoop = holdEventLoop();
  try {
    return await openPgliteLocked(dir, pgdata, releaseDirLock, compiling);
  } finally {
    releaseEventLoop();
  }
}

/**
 * PGlite's start resolves its promise from a V8 task (WebAssembly instantiation), not from I/O.
 * When that happens with nothing else pending, Node's event loop is empty and Node drains V8's
 * background tasks instead: it waits for every one of them to finish, here the optimising
 * compilation of PGlite's WebAssembly, and runs what follows (the rest of the start, each query)
 * between such waits. That cost a server's warm start 100-200 ms on a futex
 * (NodePlatform::DrainTasks, seen with perf). A referenced timer keeps the loop polling instead,
 * and V8's tasks reach it as usual.
 */
function holdEventLoop(): () => void {
  const timer = setInterval(() => {}, 2 ** 30);
  return () => clearInterval(timer);
}

/**
 * V8 runs WebAssembly first as baseline code and recompiles each function with its optimising
 * compiler once it has run about 1.8 MB of code (--wasm-tiering-budget). PostgreSQL's start runs
 * thousands of functions that far once and never again: their recompilation took about 0.7 s of
 * CPU during every warm start, on the cores the start itself needs (perf: ExecuteTurbofanWasmCompilation,
 * a third of the process's samples). A budget 100 times larger leaves start-up code on the baseline
 * tier, and the functions every query runs still reach it within the first queries: a run of
 * inserts and scans took the same time as with the default budget, against 30-45% longer
 * with no optimising tier at all (--liftoff-only). V8 reads the budget when it compiles a module,
 * so the flag is raised only while PGlite's module compiles (`compilePostgres`) and set back
 * after: while it differs from V8's default, the code cache Node embeds for its own modules no
 * longer matches, and every built-in loaded meanwhile compiles from source (http, tls, undici...:
 * 20 ms for two dozen of them here).
 */
const WASM_TIERING_BUDGET = 180_000_000;

/** A compiled WebAssembly module, as PGlite takes it (@types/node 20 declares no WebAssembly). */
type PostgresModule = NonNullable<PGliteOptions['pgliteWasmModule']>;
const { WebAssembly: wasm } = globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<PostgresModule> } };

/** V8's own --wasm-tiering-budget, by V8 version (`node --v8-options`): Node 20 and Node 22. */
const V8_DEFAULT_TIERING_BUDGET: Readonly<Record<string, number>> = { '11.3': 1_800_000, '12.4': 13_000_000 };

/**
 * PostgreSQL's WebAssembly, compiled with the raised tier-up budget. Started first thing when the
 * store opens, so it compiles on V8's background threads while the rest of the start runs. On a V8
 * whose default budget is not known here, the raised budget stays (built-ins then compile from source).
 * Compiled once per process, as PGlite itself would: a store opened again (tests, a CLI command
 * after another) instantiates the same module.
 */
let postgresModule: Promise<PostgresModule> | undefined;
function compilePostgres(): Promise<PostgresModule> {
  postgresModule ??= compilePostgresOnce().catch((error: unknown) => {
    postgresModule = undefined; // a failure is not kept: the next open tries again
    throw error;
  });
  return postgresModule;
}

async function compilePostgresOnce(): Promise<PostgresModule> {
  const bytes = await readFile(fileURLToPath(import.meta.resolve('@electric-sql/pglite/pglite.wasm')));
  setFlagsFromString(`--wasm-tiering-budget=${WASM_TIERING_BUDGET}`);
  try {
    return await wasm.compile(bytes);
  } finally {
    const defaultBudget = V8_DEFAULT_TIERING_BUDGET[process.versions.v8.split('.').slice(0, 2).join('.')];
    if (defaultBudget) setFlagsFromString(`--wasm-tiering-budget=${defaultBudget}`);
  }
}

async function openPgliteLocked(dir: string, pgdata: string, releaseDirLock: () => Promise<void>, compiling: Promise<PostgresModule>): Promise<Store> {
  // Loading PGlite (and compiling its WebAssembly) overlaps seeding a new directory from the template.
  const loading = import('@electric-sql/pglite');
  loading.catch(() => {});
  try {
    await seedFromTemplate(pgdata);
  } catch (error) {
    await releaseDirLock();
    throw unwritable(dir, error as NodeJS.ErrnoException);
  }
  let pglite: PGlite;
  try {
    const { PGlite } = await loading;
    pglite = await PGlite.create(pgdata, { pgliteWasmModule: await compiling });
  } catch (error) {
    await releaseDirLock();
    throw new PalisadeError('store.corrupt', `cannot open the embedded database in ${pgdata}: ${(error as Error).message}`, {
      kind: 'unavailable',
      hint: 'restore the data directory from a backup, or move it aside to start empty (nothing was changed)',
      cause: error,
    });
  }
  await applyEmbeddedSettings(pglite, pgdata);
  const lock = new ConnectionLock();
  const { corruption, log } = watchCorruption('pglite', () => db);
  const db = new Kysely<Database>({ dialect: new PgliteDialect(pglite, lock), log });
  return {
    db,
    kind: 'pglite',
    where: dir,
    corruption,
    sql: { executeSql: (text, values = []) => noting(corruption, lock.run(() => executeOnPglite(pglite, text, values))) },
    async close() {
      await db.destroy();
      await lock.run(() => pglite.close());
      await releaseDirLock();
    },
  };
}

/**
 * PostgreSQL sizes its shared memory for a server: 128 MB of shared buffers and 100 connections.
 * PGlite holds that memory inside its WebAssembly memory, and PostgreSQL's start zeroes all of it
 * (Emscripten's anonymous mmap is malloc + memset): each MB cost about 3 ms of a warm start here,
 * most of it the page faults of touching fresh memory (perf: memset under mmap, 133 ms for 42 MB
 * against 37 ms for 12 MB), and the server kept it all resident. The embedded database serves one
 * small installation over one connection, and its files stay in the OS page cache:
 * - 16 MB of shared buffers (2,048 pages) holds such an installation's hot tables; a page beyond
 *   them is a read from the page cache, not from disk;
 * - 10 connections, where PGlite only ever opens one: each allowed connection reserves lock
 *   table, process and snapshot slots (100 of them cost about 4 MB).
 * PostgreSQL (PALISADE_DATABASE_URL) is for more. Set with ALTER SYSTEM (postgresql.auto.conf),
 * which applies from the next start: the build's template carries them, so a new data directory
 * has them from its first start, and an older one from its second.
 */
export const EMBEDDED_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: '16MB',
  max_connections: '10',
};

async function applyEmbeddedSettings(pglite: PGlite, pgdata: string): Promise<void> {
  const auto = await readFile(path.join(pgdata, 'postgresql.auto.conf'), 'utf8').catch(() => '');
  for (const [name, value] of Object.entries(EMBEDDED_SETTINGS)) {
    if (auto.split('\n').includes(`${name} = '${value}'`)) continue;
    // Memory and start-up time, not correctness: a directory where this cannot be written still
    // opens, with PostgreSQL's defaults.
    await pglite.exec(`ALTER SYSTEM SET ${name} = '${value}'`).catch(() => undefined);
  }
}

/** A corruption watch fed by Kysely's error log; it names a damaged file's table from the catalogue. */
function watchCorruption(kind: 'pglite' | 'postgres', db: () => Kysely<Database>): { corruption: CorruptionWatch; log: (event: LogEvent) => void } {
  const corruption = new CorruptionWatch(kind, async (file) => {
    const filenode = /(\d+)(?:_\w+)?(?:\.\d+)?$/.exec(file)?.[1];
    if (!filenode) return undefined;
    const row = await sql<{ name: string }>`select n.nspname || '.' || c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relfilenode = ${Number(filenode)}`.execute(db());
    return row.rows[0]?.name;
  });
  return { corruption, log: (event) => { if (event.level === 'error') corruption.note(event.error); } };
}

function noting<T>(corruption: CorruptionWatch, running: Promise<T>): Promise<T> {
  return running.catch((error: unknown) => {
    corruption.note(error);
    throw error;
  });
}

function unwritable(dir: string, error: NodeJS.ErrnoException): PalisadeError {
  return new PalisadeError('store.data_dir_unwritable', `data directory ${dir} is not writable (${error.code ?? error.message})`, {
    field: 'dataDir',
    hint: 'set PALISADE_DATA_DIR to a directory this user can write',
    cause: error,
  });
}

/**
 * PGlite has no guard against two processes opening one data directory, and that corrupts it.
 * A lock file holding the owner's pid refuses a second opener while the first is alive.
 */
async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const lockPath = path.join(dir, 'palisade.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await openFile(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw unwritable(dir, error as NodeJS.ErrnoException);
      const owner = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
      if (owner && owner !== process.pid && isProcessAlive(owner)) {
        throw new PalisadeError('store.data_dir_in_use', `data directory ${dir} is in use by process ${owner}`, {
          kind: 'conflict',
          hint: 'the embedded database serves one process: stop the other one, or use PostgreSQL (PALISADE_DATABASE_URL) to run several',
        });
      }
      await rm(lockPath, { force: true }); // stale: its owner died
    }
  }
  throw new PalisadeError('store.data_dir_in_use', `could not lock data directory ${dir}`, { kind: 'conflict' });
}
