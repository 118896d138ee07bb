import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../registry/registry.js';

const run = promisify(execFile);

/**
 * A PostgreSQL cluster of the test's own (Debian's postgresql-common: pg_createcluster on a free
 * loopback port, trust auth), for fault tests that restart or stop PostgreSQL: restarting the
 * shared server on 5432 would break every other test running at the same time. Needs root (or
 * the postgres user) and the postgresql-common tools; `drop()` stops and removes it.
 */
export interface PrivatePostgres {
  version: string;
  name: string;
  port: number;
  /** postgres://postgres@127.0.0.1:PORT/palisade (a database created at start). */
  url: string;
  /** `pg_ctlcluster … restart -m fast`: every connection is cut, the server is back when this returns. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  drop(): Promise<void>;
}

const TOOLS = ['pg_createcluster', 'pg_ctlcluster', 'pg_dropcluster'];

/** True when a private cluster can be made here; in CI a missing tool is an error, never a silent skip. */
export function privatePostgresAvailable(): boolean {
  const dirs = (process.env.PATH ?? '').split(':').concat('/usr/bin', '/usr/sbin');
  const missing = TOOLS.filter((bin) => !dirs.some((dir) => existsSync(path.join(dir, bin))));
  const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql') : [];
  const root = process.getuid?.() === 0;
  const problem = missing.length ? `${missing.join(', ')} not installed (apt-get install -y postgresql)`
    : versions.length === 0 ? 'no PostgreSQL version under /etc/postgresql (apt-get install -y postgresql)'
    : !root ? 'creating a private PostgreSQL cluster needs root (pg_createcluster, pg_ctlcluster)'
    : undefined;
  if (problem && process.env.CI === 'true') throw new Error(`private PostgreSQL for fault tests: ${problem}`);
  return problem === undefined;
}

function pgVersion(): string {
  const versions = readdirSync('/etc/postgresql').filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error('no PostgreSQL version under /etc/postgresql');
  return versions[0];
}

async function ctl(version: string, name: string, action: string, ...extra: string[]): Promise<void> {
  try {
    await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, name, action, ...extra], { timeout: 60_000 });
  } catch (error) {
    const e = error as Error & { stderr?: string };
    throw new Error(`pg_ctlcluster ${version} ${name} ${action} failed: ${e.stderr ?? e.message}`);
  }
}

export async function createPrivatePostgres(options: { settings?: Record<string, string> } = {}): Promise<PrivatePostgres> {
  const version = pgVersion();
  const name = `palisade_fault_${randomBytes(4).toString('hex')}`;
  const port = await freePort();
  const settings = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '200', ...options.settings };
  const args = ['--port', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-o', `${k}=${v}`]), version, name, '--', '--auth=trust'];
  try {
    await run('pg_createcluster', args, { timeout: 120_000 });
  } catch (error) {
    const e = error as Error & { stderr?: string };
    throw new Error(`pg_createcluster failed: ${e.stderr ?? e.message}`);
  }
  const drop = async () => {
    await run('pg_dropcluster', ['--stop', version, name], { timeout: 60_000 }).catch(() => {});
  };
  try {
    await ctl(version, name, 'start');
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    await admin.connect();
    await admin.query('create database palisade');
    await admin.end();
  } catch (error) {
    await drop();
    throw error;
  }
  return {
    version,
    name,
    port,
    url: `postgres://postgres@127.0.0.1:${port}/palisade`,
    restart: () => ctl(version, name, 'restart', '-m', 'fast'),
    stop: () => ctl(version, name, 'stop', '-m', 'fast'),
    start: () => ctl(version, name, 'start'),
    drop,
  };
}
