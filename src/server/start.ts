import { readFile } from 'node:fs/promises';
import pino from 'pino';
import { isProcessAlive, lazyModule, PalisadeError, storeLocation, systemClock, type Clock, type Config } from '../core/index.js';
import type { JobQueue } from '../jobs/index.js';
import { createInitialAdminToken, createToken, hasActiveAdminToken, openStore, revokeToken, type Store } from '../store/index.js';
import type { ServerContext } from './context.js';
import { localUrl, readDiscovery, removeDiscovery, writeDiscovery } from '../core/index.js';

export interface RunningProcess {
  /** The bound address, e.g. http://127.0.0.1:8080 (servers only). */
  url?: string;
  /** The admission webhook's HTTPS address, when PALISADE_ADMISSION_PORT is set. */
  admissionUrl?: string;
  stop(): Promise<void>;
}

/** Human-readable log lines, for a terminal only: a service's log (JSON) never loads it. */
const pretty = lazyModule<typeof import('pino-pretty')>('pino-pretty');

function createLogger(config: Config) {
  // A person at a terminal reads lines; anything else (a file, journald, a log shipper) gets JSON.
  const destination = process.stdout.isTTY && process.env.PALISADE_LOG_FORMAT !== 'json'
    ? pretty()({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' })
    : undefined;
  return pino({
    level: config.logLevel,
    // Tokens and credentials never reach the log, wherever they appear.
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.password', '*.secret', '*.token'], censor: '[redacted]' },
    serializers: {
      // Query strings may hold a webhook token (Docker Hub): log paths only.
      req: (request: { method: string; url: string; ip?: string }) => ({ method: request.method, url: request.url.split('?')[0], remoteAddress: request.ip }),
    },
  }, destination);
}

/**
 * `palisade server`: the security center. On the embedded database it also runs the jobs
 * (PGlite serves one process); on PostgreSQL it can leave them to `palisade worker`s.
 */
export async function runServer(config: Config, io: { print: (line: string) => void; clock?: Clock } = { print: console.log }): Promise<RunningProcess> {
  const clock = io.clock ?? systemClock;
  const logger = createLogger(config);
  const phases = startupPhases();
  // The job queue's and the HTTP app's modules (every route and the capabilities behind them) load
  // while the database opens: opening waits on WebAssembly compilation and disk, leaving the main
  // thread idle. In the order they are needed.
  const queueModule = import('../jobs/index.js');
  const jobModule = import('./job-definitions.js');
  const metricsModule = import('./metrics.js');
  const appModule = import('./app.js').then((m) => phases.mark('modules', m));
  for (const loading of [queueModule, appModule, jobModule, metricsModule]) loading.catch(() => {}); // awaited below; a failure to open the store comes first
  if (config.databaseUrl) (await queueModule).surviveLostJobAcknowledgements((err) => logger.warn({ err }, 'a job acknowledgement was lost to a database outage; the job will run again after its expiry'));
  const store = await openStore(storeLocation(config)).then((s) => phases.mark('store', s));
  let jobs: JobQueue | undefined;
  let local: LocalCredential | undefined;
  try {
    // Before the admin check: a killed run's local token must not count as the user's admin token.
    await revokeStaleLocalCredential(store, config.dataDir, clock);
    const adminTokenPrinted = await ensureAdminToken(store, io.print, clock);
    const [{ createMetrics }, { jobDefinitions }, { startJobQueue }] = await Promise.all([metricsModule, jobModule, queueModule]);
    const metrics = createMetrics();
    const base = { config, store, clock, logger };
    const runJobs = config.serverRunsJobs || store.kind === 'pglite';
    jobs = await startJobQueue(store, {
      definitions: jobDefinitions(base, () => jobs),
      runHandlers: runJobs,
      concurrency: config.jobConcurrency,
      schedule: runJobs,
      onJobEnd: (queue, outcome, seconds, error) => {
        metrics.jobEnded(queue, outcome, seconds);
        if (error) logger.warn({ queue, err: error }, 'job failed; it will be retried');
      },
      onError: (error) => logger.warn({ err: error }, 'job queue error'),
      // Requests only send jobs: the workers and schedules start a second after the server listens.
      workersLater: true,
      workersAfterMs: 1000,
      timekeeperAfterMs: 3000,
    });
    phases.mark('jobs');
    const context: ServerContext = { ...base, jobs };
    const https = config.tlsCert && config.tlsKey ? { cert: await readFile(config.tlsCert), key: await readFile(config.tlsKey) } : undefined;
    const { buildApp } = await appModule;
    const app = await buildApp(context, { logger, metrics, https });
    phases.mark('app');
    await app.listen({ host: config.host, port: config.port }).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EADDRINUSE'
        ? new PalisadeError('server.port_in_use', `port ${config.port} on ${config.host} is already in use`, { kind: 'conflict', field: 'port', hint: 'stop the other process or set PALISADE_PORT / --port' })
        : error;
    });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `${https ? 'https' : 'http'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    const clientUrl = localUrl(https ? 'https' : 'http', config.host, port);
    local = await announceToLocalClients(store, config.dataDir, clientUrl, clock);
    phases.mark('listen');
    logger.info({
      url,
      dashboard: `${clientUrl}/`,
      api: `${clientUrl}/docs`,
      database: store.kind,
      where: store.where,
      jobs: runJobs,
      adminToken: adminTokenPrinted ? 'printed above, once: store it now' : 'created on first start; `palisade token create --scope admin` makes another',
      cli: `palisade commands on this machine use this server (${local.file})`,
      startupMs: phases.all(),
    }, 'palisade server ready');
    // Workers start a second after the ready line, and then between requests (jobs/queue.ts): the
    // first requests, a readiness probe or the dashboard, are answered first.
    void jobs.startWorkers().catch((error: unknown) => logger.warn({ err: error }, 'starting the job workers failed; jobs wait in the queue'));
    // A database changed while no server ran (`palisade db import` offline) is re-matched now,
    // not at the next scheduled update; after listening, so it never delays readiness.
    if (runJobs) {
      void (await jobModule).queuePendingRematches(store, jobs).catch((error: unknown) => logger.warn({ err: error }, 'could not queue re-matches of advisory database changes'));
    }
    const admission = config.admissionPort === undefined ? undefined : await startAdmissionListener(context, config, logger, io.print);
    const queue = jobs;
    return {
      url,
      ...(admission ? { admissionUrl: admission.url } : {}),
      async stop() {
        logger.info({ url }, 'palisade server stopping: finishing requests in flight and running jobs');
        // Stop taking requests and let in-flight ones finish, then jobs (or leave them to another worker).
        await admission?.app.close();
        await app.close();
        await queue.stop(config.shutdownTimeoutMs);
        await withdrawLocalCredential(store, local, clock);
        await store.close();
        logger.info({ where: store.where }, 'palisade server stopped; data kept');
      },
    };
  } catch (error) {
    await withdrawLocalCredential(store, local, clock).catch(() => {});
    await jobs?.stop(0).catch(() => {});
    await store.close().catch(() => {});
    throw error;
  }
}

async function startAdmissionListener(context: ServerContext, config: Config, logger: ReturnType<typeof createLogger>, print: (line: string) => void) {
  const [{ admissionTls }, { buildAdmissionApp }] = await Promise.all([import('./tls.js'), import('./app.js')]);
  const tls = await admissionTls(config, context.store);
  if (tls.generated) {
    print(`Admission webhook certificate generated in ${config.dataDir}/tls; its caBundle (also in \`palisade cluster connect\`): ${Buffer.from(tls.ca).toString('base64')}`);
  }
  const app = await buildAdmissionApp(context, tls, { logger });
  await app.listen({ host: config.host, port: config.admissionPort! }).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'EADDRINUSE'
      ? new PalisadeError('server.port_in_use', `admission port ${config.admissionPort} on ${config.host} is already in use`, { kind: 'conflict', field: 'admissionPort', hint: 'set PALISADE_ADMISSION_PORT to a free port' })
      : error;
  });
  const address = app.server.address();
  const url = `https://${config.host}:${typeof address === 'object' && address ? address.port : config.admissionPort}`;
  logger.info({ url }, 'admission webhook listening');
  return { app, url };
}

/**
 * How long each start-up step took (milliseconds since the process started, at the end of each
 * step), logged with "ready": where a slow start went, without a profiler. Steps that overlap
 * (modules load while the store opens) each end at their own mark.
 */
function startupPhases() {
  const marks: Record<string, number> = { begin: Math.round(performance.now()) };
  return {
    mark<T>(phase: string, value?: T): T {
      marks[phase] = Math.round(performance.now());
      return value as T;
    },
    all: () => ({ ...marks }),
  };
}

/** `palisade worker`: job handlers without HTTP, so workers scale apart from the API. */
export async function runWorker(config: Config, io: { clock?: Clock } = {}): Promise<RunningProcess> {
  if (!config.databaseUrl) {
    throw new PalisadeError('worker.embedded', 'palisade worker needs PostgreSQL: the embedded database serves one process, and `palisade server` already runs the jobs on it', {
      field: 'databaseUrl',
      hint: 'set PALISADE_DATABASE_URL for the server and every worker',
    });
  }
  const clock = io.clock ?? systemClock;
  const logger = createLogger(config);
  const queueModule = await import('../jobs/index.js');
  queueModule.surviveLostJobAcknowledgements((err) => logger.warn({ err }, 'a job acknowledgement was lost to a database outage; the job will run again after its expiry'));
  // The job handlers' modules load while the database opens.
  const modules = Promise.all([import('./metrics.js'), import('./job-definitions.js')]);
  modules.catch(() => {}); // awaited below, after the store opened
  const store = await openStore(storeLocation(config));
  // A worker has no /readyz: corruption its jobs meet is logged, with how to restore.
  store.corruption.onReport((r) => logger.error({ code: r.code, relation: r.relation, detail: r.detail, restore: r.restore }, `DATA CORRUPTION in ${r.relation ?? 'the database'}: ${r.restore}`));
  let jobs: JobQueue | undefined;
  try {
    const [{ createMetrics }, { jobDefinitions }] = await modules;
    const metrics = createMetrics();
    jobs = await queueModule.startJobQueue(store, {
      definitions: jobDefinitions({ config, store, clock, logger }, () => jobs),
      concurrency: config.jobConcurrency,
      schedule: true,
      onJobEnd: (queue, outcome, seconds, error) => {
        metrics.jobEnded(queue, outcome, seconds);
        if (error) logger.warn({ queue, err: error }, 'job failed; it will be retried');
      },
      onError: (error) => logger.warn({ err: error }, 'job queue error'),
    });
    logger.info({ database: store.where }, 'palisade worker ready');
    const queue = jobs;
    return {
      async stop() {
        await queue.stop(config.shutdownTimeoutMs);
        await store.close();
      },
    };
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
}

/** The first start creates an admin token and shows it once; only its hash is kept. True when it printed one. */
async function ensureAdminToken(store: Store, print: (line: string) => void, clock: Clock): Promise<boolean> {
  if (await hasActiveAdminToken(store.db)) return false;
  const token = await createInitialAdminToken(store.db, clock);
  if (!token) return false;
  print(`Admin token (shown once; store it now, only its hash is kept): ${token.secret}`);
  return true;
}

/**
 * Lets `palisade token create`, `registry add` … on this machine reach this server instead of the
 * locked data directory: an admin token for this run only, written with the URL to a 0600 file
 * in the data directory. A leftover from a run that was killed is revoked first.
 */
interface LocalCredential {
  dataDir: string;
  tokenId: string;
  file: string;
}

async function revokeStaleLocalCredential(store: Store, dataDir: string, clock: Clock): Promise<void> {
  const stale = readDiscovery(dataDir);
  // Another server on PostgreSQL may share this data directory and still be running: leave its token.
  if (stale?.tokenId && !isRunning(stale.pid)) await revokeToken(store.db, stale.tokenId, clock).catch(() => {});
}

function isRunning(pid: number): boolean {
  return pid !== process.pid && isProcessAlive(pid);
}

async function announceToLocalClients(store: Store, dataDir: string, url: string, clock: Clock): Promise<LocalCredential> {
  const token = await createToken(store.db, 'admin', `local CLI (server pid ${process.pid})`, clock);
  const file = writeDiscovery(dataDir, { url, token: token.secret, tokenId: token.id, pid: process.pid, startedAt: clock.now().toISOString() });
  return { dataDir, tokenId: token.id, file };
}

async function withdrawLocalCredential(store: Store, local: LocalCredential | undefined, clock: Clock): Promise<void> {
  if (!local) return;
  removeDiscovery(local.dataDir);
  await revokeToken(store.db, local.tokenId, clock).catch(() => {});
}

/** Stops cleanly on SIGTERM or SIGINT; a second signal exits at once. */
export function stopOnSignals(running: RunningProcess, onStopped: (error?: unknown) => void): void {
  let stopping = false;
  const handler = () => {
    if (stopping) process.exit(130);
    stopping = true;
    running.stop().then(() => onStopped(), onStopped);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
