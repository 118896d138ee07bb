import type { PGlite } from '@electric-sql/pglite';
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';

/**
 * One PGlite instance is one PostgreSQL backend: a single connection. Kysely and pg-boss
 * share it, so everything that talks to it takes this lock first; a transaction holds it
 * from BEGIN to COMMIT so no other statement lands inside it.
 */
export class ConnectionLock {
  private tail: Promise<void> = Promise.resolve();

  async acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const previous = this.tail;
    this.tail = previous.then(() => next);
    await previous;
    return release;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await work();
    } finally {
      release();
    }
  }
}

/** Runs one statement; parameterless text may hold several statements (migrations, pg-boss plans). */
export async function executeOnPglite<R>(pglite: PGlite, text: string, parameters: readonly unknown[] = []): Promise<{ rows: R[]; affectedRows?: number }> {
  if (parameters.length === 0 && hasSeveralStatements(text)) {
    const results = await pglite.exec(text);
    const last = results[results.length - 1];
    return { rows: (last?.rows ?? []) as R[], affectedRows: last?.affectedRows };
  }
  const result = await pglite.query<R>(text, parameters as unknown[]);
  return { rows: result.rows, affectedRows: result.affectedRows };
}

function hasSeveralStatements(text: string): boolean {
  const trimmed = text.trim().replace(/;$/, '');
  return trimmed.includes(';');
}

class PgliteConnection implements DatabaseConnection {
  constructor(private readonly pglite: PGlite) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const { rows, affectedRows } = await executeOnPglite<R>(this.pglite, compiled.sql, compiled.parameters);
    return {
      rows,
      numAffectedRows: affectedRows === undefined ? undefined : BigInt(affectedRows),
    };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported on the embedded database');
  }
}

class PgliteDriver implements Driver {
  private readonly connection: PgliteConnection;
  private readonly releases = new WeakMap<DatabaseConnection, () => void>();

  constructor(pglite: PGlite, private readonly lock: ConnectionLock) {
    this.connection = new PgliteConnection(pglite);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const release = await this.lock.acquire();
    // One physical connection: the WeakMap keyed by it holds the release of the current holder.
    this.releases.set(this.connection, release);
    return this.connection;
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const isolation = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : '';
    await connection.executeQuery(CompiledQuery.raw(`begin${isolation}`));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const release = this.releases.get(connection);
    this.releases.delete(connection);
    release?.();
  }

  async destroy(): Promise<void> {}
}

/** Kysely dialect over an open PGlite instance (the caller owns and closes it). */
export class PgliteDialect implements Dialect {
  constructor(private readonly pglite: PGlite, private readonly lock: ConnectionLock) {}

  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PgliteDriver(this.pglite, this.lock);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
}
