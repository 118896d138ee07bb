import type { Kysely } from 'kysely';
import { isPlanEnabled, meterImageScan } from '../../center/index.js';
import { isPalisadeError, PalisadeError, randomIds, type Clock } from '../../core/index.js';
import { analyzeImage, isDigest, openImage, storeLayerCache } from '../../image/index.js';
import type { Database, Store } from '../../store/index.js';
import { matchInventory } from '../../vulndb/index.js';
import { isRepositoryName, isTag } from '../connectors/index.js';
import { CONSUMED_MEDIA_TYPES } from './metadata.js';
import { harborPullOptions } from './pull-authorization.js';
import { harborVulnerabilityReport, type HarborArtifact, type HarborVulnerabilityReport } from './report.js';
import { harborSbomReport, type HarborSbomReport } from './sbom.js';

interface HarborScanRequestTable {
  id: string;
  registry: string;
  repository: string;
  digest: string;
  tag: string | null;
  mime_type: string | null;
  status: 'queued' | 'running' | 'done' | 'failed';
  error: string | null;
  report: HarborVulnerabilityReport | null;
  sbom: HarborSbomReport | null;
  created_at: Date | string;
  finished_at: Date | string | null;
}

type HarborDb = Kysely<Database & { harbor_scan_requests: HarborScanRequestTable }>;

/** The body of `POST /scan` (spec `ScanRequest`), as parsed JSON: every field is checked here. */
export interface HarborScanInput {
  registry: { url?: string; authorization?: string };
  artifact: { repository?: string; digest?: string; tag?: string; mime_type?: string };
}

/** Who calls: a `registry:NAME` token (that Harbor only), or an admin token (any Harbor connected). */
export interface HarborCaller {
  registry?: string;
  isAdmin: boolean;
}

export type HarborReportState =
  | { state: 'pending'; refreshAfterSeconds: number }
  | { state: 'failed'; message: string }
  | { state: 'done'; report: HarborVulnerabilityReport | HarborSbomReport };

/** The little of a pino logger the scanner uses (the server passes its own). */
export interface HarborScanLogger {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface HarborScannerContext {
  store: Store;
  clock: Clock;
  logger?: HarborScanLogger;
}

/** Harbor polls a running scan this often. */
export const REFRESH_AFTER_SECONDS = 5;
/** A scan still unfinished after this long was lost with the process that ran it: reported failed, so Harbor stops polling. */
export const SCAN_DEADLINE_MS = 60 * 60_000;
/** Requests (and their reports) are kept this long: Harbor fetches a report right after the scan. */
export const KEEP_REQUESTS_MS = 7 * 86_400_000;
/** Scans running at once in one server process; the rest wait in order. */
export const HARBOR_SCANS_AT_ONCE = 2;
/** Scans waiting in one process at most: Harbor's robot tokens expire, so a longer queue would only fail later. */
export const MAX_WAITING_SCANS = 1000;

/**
 * Harbor's pluggable scanner, the capability behind `/harbor/api/v1`. Scans run in the server
 * process that accepted them, not through the job queue: the pull authorization Harbor passes is a
 * secret, short-lived, and must not be written to the queue's table. The request's state lives in
 * the store, so any replica can answer Harbor's polls.
 */
export function harborScanner(context: HarborScannerContext) {
  const db = context.store.db as unknown as HarborDb;
  const running = new Set<Promise<void>>();
  const waiting: Array<() => void> = [];
  let active = 0;
  let closed = false;

  async function slot(): Promise<void> {
    if (active < HARBOR_SCANS_AT_ONCE) {
      active++;
      return;
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  }
  function release(): void {
    const next = waiting.shift();
    if (next) next();
    else active--;
  }

  async function run(id: string, registryUrl: URL, artifact: HarborArtifact & { digest: string }, authorization: string | undefined, registry: string): Promise<void> {
    await slot();
    try {
      if (closed) throw new PalisadeError('harbor.scan.stopped', 'the server stopped before this scan ran; scan again', { kind: 'unavailable' });
      await db.updateTable('harbor_scan_requests').set({ status: 'running' }).where('id', '=', id).execute();
      const source = await openImage({ transport: 'registry', reference: { registry: registryUrl.host, repository: artifact.repository, digest: artifact.digest } }, {
        insecure: registryUrl.protocol === 'http:',
        ...harborPullOptions(registryUrl, authorization),
      });
      let analysis;
      try {
        analysis = await analyzeImage(source, { cache: storeLayerCache(context.store.db) });
      } finally {
        await source.close();
      }
      const findings = await matchInventory(context.store, analysis.inventory);
      const at = context.clock.now();
      const report = harborVulnerabilityReport(artifact, findings, at);
      // Harbor asks for the SBOM by the same scan id (spec 1.2); it costs little next to the pull.
      const sbom = harborSbomReport(artifact, analysis.image, analysis.inventory, findings, analysis.warnings, at);
      await db.transaction().execute(async (tx) => {
        await tx.updateTable('harbor_scan_requests').set({ status: 'done', report: JSON.stringify(report) as never, sbom: JSON.stringify(sbom) as never, finished_at: at }).where('id', '=', id).execute();
        // Metered like every image scan (plans meter whether or not anything was found).
        // The store's Database type does not list harbor_scan_requests yet (HarborDb adds it), hence the cast.
        await meterImageScan(tx as unknown as Kysely<Database>, registry, `harbor-scan:${id}`, at);
      });
      context.logger?.info({ id, repository: artifact.repository, digest: artifact.digest, findings: findings.length }, 'harbor scan done');
    } catch (error) {
      const message = isPalisadeError(error) ? error.toLine() : 'internal error while scanning; see the server log';
      if (!isPalisadeError(error)) context.logger?.error({ err: error, id }, 'harbor scan failed');
      await db.updateTable('harbor_scan_requests').set({ status: 'failed', error: message, finished_at: context.clock.now() }).where('id', '=', id).execute()
        .catch((cause: unknown) => context.logger?.error({ err: cause, id }, 'cannot record the failed harbor scan'));
    } finally {
      release();
    }
  }

  return {
    /** `POST /scan`: checks the request, finds the connected Harbor it names, records it and starts the scan. Returns the id Harbor polls. */
    async accept(caller: HarborCaller, input: HarborScanInput): Promise<string> {
      const url = registryUrlOf(input.registry.url);
      const artifact = artifactOf(input.artifact);
      const registry = await connectedHarbor(db, caller, url);
      const scope = `registry:${registry}`;
      if (!(await isPlanEnabled(context.store.db, scope))) {
        throw new PalisadeError('harbor.scan.plan_off', `the registries plan is off for ${registry}: Palisade does not scan its images`, { kind: 'unprocessable', field: 'registry.url', hint: `turn it on with PUT /api/v1/plans/${scope}` });
      }
      harborPullOptions(url, input.registry.authorization); // refuses a malformed authorization now, not in the scan
      if (waiting.length >= MAX_WAITING_SCANS) {
        throw new PalisadeError('harbor.scan.busy', `${MAX_WAITING_SCANS} Harbor scans are already waiting in this server`, { kind: 'unavailable', hint: 'Harbor retries; or run more server replicas' });
      }
      const now = context.clock.now();
      const id = randomIds.next('hsc_');
      await db.deleteFrom('harbor_scan_requests').where('created_at', '<', new Date(now.getTime() - KEEP_REQUESTS_MS)).execute();
      await db.insertInto('harbor_scan_requests').values({
        id, registry, repository: artifact.repository, digest: artifact.digest, tag: artifact.tag ?? null, mime_type: artifact.mime_type ?? null,
        status: 'queued', error: null, report: null, sbom: null, created_at: now, finished_at: null,
      }).execute();
      const scan = run(id, url, artifact, input.registry.authorization, registry);
      running.add(scan);
      void scan.finally(() => running.delete(scan));
      return id;
    },

    /** `GET /scan/{id}/report`: the vulnerability report or the SBOM once done; pending while queued or running; undefined for an unknown id (or another Harbor's). */
    async report(caller: HarborCaller, id: string, kind: 'vulnerability' | 'sbom' = 'vulnerability'): Promise<HarborReportState | undefined> {
      // Only the document asked for is read: either can be megabytes.
      const row = await db.selectFrom('harbor_scan_requests').select(['registry', 'status', 'error', 'created_at'])
        .select((eb) => eb.ref(kind === 'sbom' ? 'sbom' : 'report').as('document'))
        .where('id', '=', id).executeTakeFirst();
      if (!row || (!caller.isAdmin && row.registry !== caller.registry)) return undefined;
      const document = row.document;
      if (row.status === 'done' && document) return { state: 'done', report: (typeof document === 'string' ? JSON.parse(document) : document) as HarborVulnerabilityReport | HarborSbomReport };
      if (row.status === 'failed') return { state: 'failed', message: row.error ?? 'the scan failed' };
      if (context.clock.now().getTime() - new Date(row.created_at).getTime() > SCAN_DEADLINE_MS) {
        return { state: 'failed', message: `the scan did not finish within ${SCAN_DEADLINE_MS / 60_000} minutes (the server running it stopped?); scan again` };
      }
      return { state: 'pending', refreshAfterSeconds: REFRESH_AFTER_SECONDS };
    },

    /** Stops starting waiting scans and waits for the running ones (server shutdown, tests). */
    async close(): Promise<void> {
      closed = true;
      await Promise.allSettled([...running]);
    },

    /** Waits until every scan accepted so far has finished (tests). */
    async idle(): Promise<void> {
      while (running.size) await Promise.allSettled([...running]);
    },
  };
}

export type HarborScanner = ReturnType<typeof harborScanner>;

function registryUrlOf(value: string | undefined): URL {
  let url: URL | undefined;
  try {
    url = value ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password) {
    throw new PalisadeError('harbor.scan.registry_url', `registry.url must be the registry's http(s) base URL (got ${JSON.stringify(String(value ?? '').slice(0, 80))})`, { kind: 'unprocessable', field: 'registry.url' });
  }
  return url;
}

function artifactOf(artifact: HarborScanInput['artifact']): HarborArtifact & { digest: string } {
  const { repository, digest, tag, mime_type: mimeType } = artifact;
  const excerpt = (value: string | undefined) => JSON.stringify(String(value ?? '').slice(0, 80));
  if (!repository || !isRepositoryName(repository)) {
    throw new PalisadeError('harbor.scan.repository', `artifact.repository is not a repository name: ${excerpt(repository)}`, { kind: 'unprocessable', field: 'artifact.repository', hint: 'lowercase path components joined by /, such as library/nginx' });
  }
  // Harbor always names the digest it wants scanned; a tag alone could move while the scan runs.
  if (!digest || !isDigest(digest)) {
    throw new PalisadeError('harbor.scan.digest', `artifact.digest is not a manifest digest: ${excerpt(digest)}`, { kind: 'unprocessable', field: 'artifact.digest', hint: 'sha256: and 64 lowercase hex digits' });
  }
  if (tag !== undefined && tag !== '' && !isTag(tag)) {
    throw new PalisadeError('harbor.scan.tag', `artifact.tag is not a tag: ${excerpt(tag)}`, { kind: 'unprocessable', field: 'artifact.tag' });
  }
  if (mimeType !== undefined && !(CONSUMED_MEDIA_TYPES as readonly string[]).includes(mimeType)) {
    throw new PalisadeError('harbor.scan.mime_type', `artifact.mime_type ${excerpt(mimeType)} is not an image manifest Palisade scans`, { kind: 'unprocessable', field: 'artifact.mime_type', hint: `one of ${CONSUMED_MEDIA_TYPES.join(', ')}` });
  }
  return { repository, digest, ...(tag ? { tag } : {}), ...(mimeType ? { mime_type: mimeType } : {}) };
}

/**
 * The Harbor the scan request names, by origin, among the registries connected with kind `harbor`.
 * Harbor chooses this URL, so it is never fetched unless the user connected that origin (no SSRF
 * through a scan request); a registry token reaches its own Harbor only.
 */
async function connectedHarbor(db: HarborDb, caller: HarborCaller, url: URL): Promise<string> {
  const harbors = await db.selectFrom('registries').select(['name', 'url']).where('kind', '=', 'harbor').execute();
  const matching = harbors.filter((r) => new URL(r.url).origin === url.origin).map((r) => r.name);
  if (caller.registry !== undefined && !caller.isAdmin) {
    if (matching.includes(caller.registry)) return caller.registry;
    throw new PalisadeError('harbor.scan.registry_not_allowed', `registry.url ${url.origin} is not the address of registry ${caller.registry}, whose token this is`, {
      kind: 'forbidden', field: 'registry.url', hint: 'connect the registry with the URL Harbor passes to scanners (its internal address if "Use internal registry address" is on)',
    });
  }
  const first = matching.sort()[0];
  if (!first) {
    throw new PalisadeError('harbor.scan.registry_unknown', `registry.url ${url.origin} is not a registry connected to Palisade with kind harbor`, {
      kind: 'unprocessable', field: 'registry.url', hint: 'connect it first: POST /api/v1/registries with kind harbor and this URL',
    });
  }
  return first;
}
