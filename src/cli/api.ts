import { createReadStream, readFileSync } from 'node:fs';
import { Transform } from 'node:stream';
import type { Command } from 'commander';
import { isProcessAlive, PalisadeError, readDiscovery, storeLocation, systemClock, type ErrorKind } from '../core/index.js';
import { exchange, type Exchange } from './http.js';
import { configFor, withStoreFlags } from './shared.js';

/** The documented, versioned API prefix (DESIGN.md "Interfaces others rely on"), as any client spells it. */
const API_PREFIX = '/api/v1';

/**
 * Management commands speak the REST API, as kubectl or vault do: to the server named by
 * `--server`/PALISADE_SERVER, else to the server running on this data directory (found through
 * the file it writes there), else to the API built in this process over the data directory.
 * One code path, so a command prints the same whether or not a server runs.
 */
export interface Api {
  /** Where requests go: a URL, or "data directory DIR" when no server runs. */
  readonly target: string;
  /** The server's public address when one runs (for webhook snippets); undefined in process. */
  readonly serverUrl: string | undefined;
  request<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T>;
}

/** A server this command should talk to instead of opening the data directory. */
export interface RunningServer {
  url: string;
  token: string;
  /** How it was found: --server, PALISADE_SERVER or discovered (server.json in the data directory). */
  via: string;
}

interface ServerFlags {
  server?: string;
  tokenFile?: string;
}

/** The store flags plus where a running server is and which token to use. */
export function withServerFlags(command: Command): Command {
  return withStoreFlags(command)
    .option('--server <url>', 'a running Palisade server to talk to (PALISADE_SERVER); default: the one on this data directory, if any')
    .option('--token-file <file>', 'file holding an admin token for --server (PALISADE_TOKEN holds the token itself)');
}

function readToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PalisadeError('cli.token_file', `cannot read token file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { field: '--token-file' });
  }
  const token = text.trim();
  if (!token) throw new PalisadeError('cli.token_file', `token file ${file} is empty`, { field: '--token-file' });
  return token;
}

function failure(status: number, text: string, where: string): PalisadeError {
  let body: { code?: unknown; message?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // Not our JSON error body (a proxy, another service on that port): say what came back.
  }
  const code = typeof body.code === 'string' ? body.code : `http.${status}`;
  const message = typeof body.message === 'string' ? body.message : `${where} answered HTTP ${status}`;
  const kind: ErrorKind = status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : status === 404 ? 'not-found' : status === 409 ? 'conflict' : status >= 500 ? 'internal' : 'invalid';
  return new PalisadeError(code, message, {
    kind,
    ...(status === 401 ? { hint: 'the token was refused: pass an admin token with --token-file or PALISADE_TOKEN' } : {}),
  });
}

function remote(url: string, token: string, via: string): Api {
  const base = url.replace(/\/+$/, '');
  return {
    target: `${base} (${via})`,
    serverUrl: base,
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      let response: Exchange;
      try {
        response = await exchange(`${base}${API_PREFIX}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (error) {
        throw unreachable(base, via, error);
      }
      return answerOf<T>(response, base);
    },
  };
}

/**
 * The server named by `--server`/PALISADE_SERVER (with its token), else the live server that wrote
 * server.json into this data directory, else undefined: the command then works on the data directory.
 */
export function runningServer(command: Command): RunningServer | undefined {
  const flags = command.optsWithGlobals() as ServerFlags;
  const config = configFor(command);
  const named = flags.server ?? process.env.PALISADE_SERVER;
  if (named) {
    const token = flags.tokenFile ? readToken(flags.tokenFile) : process.env.PALISADE_TOKEN;
    const discovered = readDiscovery(config.dataDir);
    const sameServer = discovered && discovered.url.replace(/\/+$/, '') === named.replace(/\/+$/, '') ? discovered.token : undefined;
    const chosen = token ?? sameServer;
    if (!chosen) {
      throw new PalisadeError('cli.token_missing', `no token for ${named}`, { field: '--token-file', hint: 'pass --token-file FILE or set PALISADE_TOKEN to an admin token' });
    }
    return { url: named, token: chosen, via: flags.server ? '--server' : 'PALISADE_SERVER' };
  }
  const discovered = readDiscovery(config.dataDir);
  if (discovered && isProcessAlive(discovered.pid)) return { url: discovered.url, token: discovered.token, via: 'discovered' };
  return undefined;
}

/** The API of a running server. */
export function remoteApi(server: RunningServer): Api {
  return remote(server.url, server.token, server.via);
}

/**
 * Sends a file as the raw body of `POST path` (streamed, never read whole), for uploads such as
 * `db import`; `onBytes` sees the bytes sent so far.
 */
export async function uploadFile<T>(server: RunningServer, path: string, file: string, onBytes?: (sent: number) => void): Promise<T> {
  const base = server.url.replace(/\/+$/, '');
  let sent = 0;
  const counted = createReadStream(file).pipe(new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.length;
      onBytes?.(sent);
      done(null, chunk);
    },
  }));
  let response: Exchange;
  try {
    response = await exchange(`${base}${API_PREFIX}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/octet-stream' },
      body: counted,
    });
  } catch (error) {
    throw unreachable(base, server.via, error);
  }
  return answerOf<T>(response, base);
}

/** The JSON a 2xx answer carries, or the error a non-2xx answer names. */
function answerOf<T>(response: Exchange, base: string): T {
  if (response.status < 200 || response.status > 299) throw failure(response.status, response.text, base);
  return (response.text ? JSON.parse(response.text) : undefined) as T;
}

function unreachable(base: string, via: string, error: unknown): PalisadeError {
  const cause = (error as { code?: string }).code ?? (error as Error).message;
  return new PalisadeError('cli.server_unreachable', `cannot reach the Palisade server at ${base} (${cause})`, {
    hint: via === 'discovered' ? 'it may have been killed: remove its server.json from the data directory, or start it again' : 'check --server / PALISADE_SERVER and that the server runs',
  });
}

/**
 * The API for this command's lifetime. With no server, the app is built in process over the data
 * directory and called with an admin token made for this one command and revoked after it.
 */
export async function withApi<T>(command: Command, work: (api: Api) => Promise<T>): Promise<T> {
  const server = runningServer(command);
  if (server) return work(remoteApi(server));

  const config = configFor(command);
  const [{ createToken, openStore, revokeToken }, { buildApp }] = await Promise.all([import('../store/index.js'), import('../server/index.js')]);
  const store = await openStore(storeLocation(config));
  const credential = await createToken(store.db, 'admin', `palisade CLI (no server, pid ${process.pid})`, systemClock);
  const app = await buildApp({ config, store, jobs: undefined, clock: systemClock });
  try {
    return await work({
      target: `data directory ${config.databaseUrl ? 'PostgreSQL' : config.dataDir}`,
      serverUrl: undefined,
      async request<R>(method: string, path: string, body?: unknown): Promise<R> {
        const response = await app.inject({
          method: method as 'GET',
          url: `${API_PREFIX}${path}`,
          headers: { authorization: `Bearer ${credential.secret}` },
          ...(body === undefined ? {} : { payload: body as object }),
        });
        if (response.statusCode >= 400) throw failure(response.statusCode, response.body, 'the API');
        return (response.body ? JSON.parse(response.body) : undefined) as R;
      },
    });
  } finally {
    await app.close().catch(() => {});
    await revokeToken(store.db, credential.id, systemClock).catch(() => {});
    await store.close();
  }
}
