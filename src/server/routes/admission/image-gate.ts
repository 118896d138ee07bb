/**
 * Resolves the images of an admitted object to what the image-vulnerabilities policy judges:
 * written reference → digest (a tag through the connected registry it names; a digest as is) →
 * stored findings (VEX-suppressed ones left out) or an exemption, before the policies run. Every
 * answer is cached (bounded, short-lived) so a warm admission costs map lookups; every lookup is
 * bounded by the admission deadline so the webhook always answers before the API server gives up.
 *
 * Only registries the user connected are ever asked: a tag on any other host is never resolved,
 * so an image reference in a pod cannot make Palisade call a host of its choosing (with or
 * without a registry's credentials).
 */
import { findingsPage, hasSucceededScan, listExemptions, type Exemption, type FindingsPosition, type StoredFinding } from '../../../center/index.js';
import { FINDING_SEVERITIES, PalisadeError, type Finding, type FindingSeverity } from '../../../core/index.js';
import { parseWrittenReference, type ImageReference } from '../../../image/index.js';
import {
  containersOf, podOf, resourceRef, type ImageAssessment, type ImageFindingRef, type ImageFindingsSummary, type KubeObject,
} from '../../../policy/index.js';
import { REGISTRY_POLICY, resolveRegistryTag, RUNNING_IMAGES_POLICY, scanRegistryImage } from '../../../registry/index.js';
import { recordImagePush, registriesByHost, registryHostKey, type RegistryRecord } from '../../../store/index.js';
import { isSuppressing } from '../../../vex/index.js';
import type { ServerContext } from '../../context.js';
import { SingleFlight, TtlCache } from './ttl-cache.js';

export const IMAGE_POLICY = 'image-vulnerabilities';

export interface ImageGateOptions {
  /** Longest an admission waits for image lookups and scans, in ms (the webhook's timeoutSeconds is 3 by default). */
  deadlineMs?: number;
  /** How long a tag → digest answer is reused, in ms. */
  tagTtlMs?: number;
  /** How long an image's findings summary is reused, in ms (a rescan, new advisories or a VEX upload show after it). */
  findingsTtlMs?: number;
  /** How long "not scanned" and "tag not found" answers are reused, in ms. */
  missTtlMs?: number;
  /** How long the connected registries and the exemptions in force are reused, in ms. */
  settingsTtlMs?: number;
  /** Entries per cache. */
  cacheEntries?: number;
  /** Scans started by admissions at once (requireScan); more wait for the registry's own scans. */
  maxScans?: number;
  /** Monotonic time in ms (tests). */
  monotonicNow?: () => number;
}

const DEFAULTS = {
  deadlineMs: 2000, tagTtlMs: 60_000, findingsTtlMs: 10_000, missTtlMs: 5_000, settingsTtlMs: 10_000, cacheEntries: 4096, maxScans: 2,
} satisfies Required<Omit<ImageGateOptions, 'monotonicNow'>>;

/** Distinct images judged per object; a pod spec with more is not a real workload. */
const MAX_IMAGES = 64;
/** Findings named per severity and fix state: the policy names at most three. */
const NAMED_PER_BUCKET = 3;
const FINDINGS_PAGE = 500;

/**
 * VEX (#21): a finding whose statement says `not_affected` or `fixed` is suppressed and never
 * counts. The center keeps the statement that speaks for a stored finding on it (`vex`), applied
 * when findings are stored and again whenever a document is added or removed; the VEX face says
 * which statuses suppress.
 */
function suppressedByVex(finding: Finding): boolean {
  return isSuppressing((finding as StoredFinding).vex?.status);
}

/** Reduces an image's findings, a page at a time, to counts per severity and fix state and the worst few of each. */
class FindingsSummarizer {
  private readonly counts: ImageFindingsSummary['counts'] = {};
  private readonly named = new Map<string, ImageFindingRef[]>();

  add(f: Finding): void {
    if (suppressedByVex(f)) return;
    const severity: FindingSeverity = FINDING_SEVERITIES.includes(f.severity) ? f.severity : 'unknown';
    const fixable = typeof f.fixedVersion === 'string' && f.fixedVersion !== '';
    const c = (this.counts[severity] ??= { fixable: 0, unfixable: 0 });
    if (fixable) c.fixable++;
    else c.unfixable++;
    const key = `${severity}/${fixable}`;
    const list = this.named.get(key) ?? [];
    this.named.set(key, list);
    if (list.length < NAMED_PER_BUCKET) {
      list.push({ id: f.id, severity, package: f.package.name, installedVersion: f.installedVersion, ...(fixable ? { fixedVersion: f.fixedVersion } : {}) });
    }
  }

  summary(digest: string): ImageFindingsSummary {
    const worst = FINDING_SEVERITIES.flatMap((s) => [...(this.named.get(`${s}/true`) ?? []), ...(this.named.get(`${s}/false`) ?? [])]);
    return { digest, counts: this.counts, worst };
  }
}

export function summarizeFindings(digest: string, findings: Iterable<Finding>): ImageFindingsSummary {
  const summarizer = new FindingsSummarizer();
  for (const f of findings) summarizer.add(f);
  return summarizer.summary(digest);
}

const short = (digest: string) => digest.slice(0, 19);

class Deadline extends Error {}

export class ImageGate {
  private readonly o: Required<Omit<ImageGateOptions, 'monotonicNow'>>;
  private readonly tags: TtlCache<string, string | null>;
  private readonly summaries: TtlCache<string, ImageFindingsSummary | null>;
  private readonly settings: TtlCache<'registries' | 'exemptions', unknown>;
  private readonly lookups: SingleFlight<string, unknown>;
  private readonly scans: SingleFlight<string, unknown>;

  constructor(private readonly context: ServerContext, options: ImageGateOptions = {}) {
    const { monotonicNow, ...rest } = options;
    this.o = { ...DEFAULTS, ...rest };
    this.tags = new TtlCache(this.o.cacheEntries, monotonicNow);
    this.summaries = new TtlCache(this.o.cacheEntries, monotonicNow);
    this.settings = new TtlCache(2, monotonicNow);
    // Lookups in flight are bounded like the caches: a flood of distinct images cannot pile up promises.
    this.lookups = new SingleFlight(this.o.cacheEntries);
    this.scans = new SingleFlight(this.o.maxScans);
  }

  /**
   * Every image of the objects (an UPDATE's old object too, so unchanged images compare equal),
   * assessed within the deadline. What is still running when it passes keeps running and fills
   * the caches, so the API server's retry finds the answer.
   */
  async assess(objects: readonly (KubeObject | null | undefined)[], input: { cluster: string; requireScan: boolean; namespace?: string }): Promise<Map<string, ImageAssessment>> {
    const images = new Set<string>();
    for (const object of objects) {
      if (!object || typeof object !== 'object') continue;
      const pod = podOf(object);
      if (!pod) continue;
      for (const c of containersOf(pod)) images.add(String(c.container.image ?? ''));
    }
    const out = new Map<string, ImageAssessment>();
    if (images.size === 0) return out;
    const subject = objects[0];
    // Shared by every image of the object, and raced against the same deadline.
    const objectExempt = subject ? this.objectExemption(subject, input.cluster, input.namespace) : Promise.resolve(undefined);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Deadline()), this.o.deadlineMs); });
    deadline.catch(() => undefined);
    try {
      let n = 0;
      await Promise.all([...images].map(async (image) => {
        if (++n > MAX_IMAGES) {
          out.set(image, { state: 'unresolved', reason: `the object names more than ${MAX_IMAGES} distinct images` });
          return;
        }
        try {
          const exempt = await Promise.race([objectExempt, deadline]);
          out.set(image, exempt ? { state: 'exempt', digest: '', reason: exempt } : await Promise.race([this.assessImage(image, input), deadline]));
        } catch (error) {
          out.set(image, { state: 'unresolved', reason: this.reasonOf(error) });
        }
      }));
    } finally {
      clearTimeout(timer);
    }
    return out;
  }

  private reasonOf(error: unknown): string {
    if (error instanceof Deadline) return `Palisade could not check it within the admission deadline (${this.o.deadlineMs} ms)`;
    if (error instanceof PalisadeError) return error.message;
    this.context.logger?.warn({ err: error }, 'image-vulnerabilities: checking an image failed');
    return 'checking it failed (see the server log)';
  }

  private async assessImage(image: string, input: { cluster: string; requireScan: boolean }): Promise<ImageAssessment> {
    const ref = parseWrittenReference(image);
    if (!ref) return { state: 'unresolved', reason: 'it is not a valid image reference' };
    const registry = (await this.registries()).get(registryHostKey(ref.registry));
    let digest = ref.digest;
    if (!digest) {
      const tag = ref.tag ?? 'latest';
      // Never a request to a host the user did not connect: the tag stays unresolved.
      if (!registry) return { state: 'unscanned', reason: `registry ${ref.registry} is not connected to Palisade, so tag ${tag} cannot be resolved to a scanned digest` };
      const resolved = await this.resolveTag(registry, ref, tag);
      if (!resolved) return { state: 'unresolved', reason: `tag ${tag} of ${ref.repository} was not found in registry ${registry.name}` };
      digest = resolved;
    }
    const exemption = await this.imageExemption(digest, registry, input.cluster);
    if (exemption) return { state: 'exempt', digest, reason: exemption };
    const summary = await this.summaryOf(digest);
    if (summary) return { state: 'scanned', summary };
    if (!input.requireScan) return { state: 'unscanned', digest, reason: `Palisade has not scanned ${short(digest)}` };
    if (!registry) return { state: 'unscanned', digest, reason: `Palisade has not scanned ${short(digest)}, and registry ${ref.registry} is not connected to Palisade to scan it` };
    return this.scanNow(digest, ref, registry);
  }

  /** requireScan with a connected registry: scan now; the deadline race in `assess` says when to stop waiting. */
  private async scanNow(digest: string, ref: ImageReference, registry: RegistryRecord): Promise<ImageAssessment> {
    const context = { store: this.context.store, config: this.context.config, clock: this.context.clock, ...(this.context.logger ? { logger: this.context.logger } : {}) };
    const running = this.scans.run(digest, async () => {
      // Recorded in the registry's inventory first, as polling finds an image: so the scan marks it
      // scanned, it counts in the registry recommendation, and an admin can exempt it there.
      await recordImagePush(this.context.store.db, { registry: registry.name, repository: ref.repository, digest, ...(ref.tag ? { tag: ref.tag } : {}), imported: false, at: this.context.clock.now() });
      // Scanned like a polled image (the scan is the same one, keyed by digest, whoever asks first).
      return scanRegistryImage(context, { registry: registry.name, repository: ref.repository, digest, reason: 'poll' });
    });
    running?.finally(() => this.summaries.delete(digest)).catch(() => undefined);
    if (!running) return { state: 'unscanned', digest, reason: `Palisade has not scanned ${short(digest)} yet and is already scanning ${this.o.maxScans} images for admissions; retry shortly` };
    const outcome = await running as Awaited<ReturnType<typeof scanRegistryImage>>;
    if (outcome.status === 'plan-off') return { state: 'unscanned', digest, reason: `the registries plan is off for ${registry.name}, so Palisade does not scan its images` };
    const summary = await this.summaryOf(digest);
    return summary ? { state: 'scanned', summary } : { state: 'unresolved', reason: `the scan of ${short(digest)} recorded no result` };
  }

  private async registries(): Promise<Map<string, RegistryRecord>> {
    const cached = this.settings.get('registries') as Map<string, RegistryRecord> | undefined;
    if (cached) return cached;
    return this.flight('registries', async () => {
      const byHost = await registriesByHost(this.context.store.db);
      this.settings.set('registries', byHost, this.o.settingsTtlMs);
      return byHost;
    });
  }

  private async resolveTag(registry: RegistryRecord, ref: ImageReference, tag: string): Promise<string | undefined> {
    const key = `${registry.name}\u0000${ref.repository}\u0000${tag}`;
    const cached = this.tags.get(key);
    if (cached !== undefined) return cached ?? undefined;
    return this.flight(`tag\u0000${key}`, async () => {
      // Through the registry's own access (API path prefix, exchanged cloud logins), as its scans.
      const digest = await resolveRegistryTag(this.context, registry, ref.repository, tag, { timeoutMs: this.o.deadlineMs, userAgent: 'palisade-admission' });
      this.tags.set(key, digest ?? null, digest ? this.o.tagTtlMs : this.o.missTtlMs);
      return digest;
    });
  }

  /** The image's findings if Palisade has a successful scan of the digest; undefined if none. */
  private async summaryOf(digest: string): Promise<ImageFindingsSummary | undefined> {
    const cached = this.summaries.get(digest);
    if (cached !== undefined) return cached ?? undefined;
    return this.flight(`findings\u0000${digest}`, async () => {
      const db = this.context.store.db;
      if (!(await hasSucceededScan(db, digest))) {
        this.summaries.set(digest, null, this.o.missTtlMs);
        return undefined;
      }
      // A page at a time: an image with thousands of findings never sits in memory whole.
      const summarizer = new FindingsSummarizer();
      let after: FindingsPosition | undefined;
      for (;;) {
        const page = await findingsPage(db, digest, { suppressed: 'exclude' }, { limit: FINDINGS_PAGE, ...(after ? { after } : {}) });
        for (const row of page.rows) summarizer.add(row.finding);
        if (page.rows.length < FINDINGS_PAGE) break;
        after = page.rows[page.rows.length - 1]!.position;
      }
      const summary = summarizer.summary(digest);
      this.summaries.set(digest, summary, this.o.findingsTtlMs);
      return summary;
    });
  }

  private async exemptions(): Promise<Exemption[]> {
    const cached = this.settings.get('exemptions') as Exemption[] | undefined;
    if (cached) return cached;
    return this.flight('exemptions', async () => {
      const list = await listExemptions(this.context.store.db, { status: 'active' }, this.context.clock.now());
      const relevant = list.filter((e) => e.policy === REGISTRY_POLICY || e.policy === RUNNING_IMAGES_POLICY || e.policy === IMAGE_POLICY);
      this.settings.set('exemptions', relevant, this.o.settingsTtlMs);
      return relevant;
    });
  }

  /**
   * An exemption in force that accepts this image's findings: from the registry recommendation
   * (this image by id or digest, or its whole registry) or the running-images recommendation of
   * the cluster (this digest, or the whole cluster).
   */
  private async imageExemption(digest: string, registry: RegistryRecord | undefined, cluster: string): Promise<string | undefined> {
    const now = this.context.clock.now().getTime();
    for (const e of await this.exemptions()) {
      if (e.expiresAt.getTime() <= now) continue;
      const covers = e.policy === REGISTRY_POLICY
        ? (e.resource === undefined ? registry !== undefined && e.scope === `registry:${registry.name}` : e.resource.endsWith(`@${digest}`))
        : e.policy === RUNNING_IMAGES_POLICY && e.scope === `cluster:${cluster}` && (e.resource === undefined || e.resource === `${cluster}/${digest}`);
      if (covers) return `exempt from ${e.policy} in ${e.scope} until ${e.expiresAt.toISOString()}: ${e.reason}`;
    }
    return undefined;
  }

  /**
   * An exemption of this workload from the image-vulnerabilities recommendation of its cluster (or
   * of the whole cluster). Posture lists a Deployment, not its pods: a pod or ReplicaSet is covered
   * through its controller (`web-<hash>` of Deployment `web`, `nightly-<n>` of CronJob `nightly`).
   */
  private async objectExemption(object: KubeObject, cluster: string, namespace: string | undefined): Promise<string | undefined> {
    const now = this.context.clock.now().getTime();
    const list = await this.exemptions();
    if (!list.some((e) => e.policy === IMAGE_POLICY)) return undefined;
    const subject = object.metadata?.namespace || !namespace ? object : { ...object, metadata: { ...object.metadata, namespace } };
    const ids = new Set([resourceRef(subject, cluster).id]);
    const ns = subject.metadata?.namespace ?? '-';
    const owners = (object.metadata as { ownerReferences?: { kind?: unknown; name?: unknown; controller?: unknown }[] } | undefined)?.ownerReferences;
    for (const o of Array.isArray(owners) ? owners : []) {
      if (o?.controller !== true || typeof o.kind !== 'string' || typeof o.name !== 'string') continue;
      ids.add(`${cluster}/${ns}/${o.kind.toLowerCase()}/${o.name}`);
      const parent = o.name.slice(0, Math.max(0, o.name.lastIndexOf('-')));
      if (parent && o.kind === 'ReplicaSet') ids.add(`${cluster}/${ns}/deployment/${parent}`);
      if (parent && o.kind === 'Job') ids.add(`${cluster}/${ns}/cronjob/${parent}`);
    }
    const found = list.find((e) => e.policy === IMAGE_POLICY && e.expiresAt.getTime() > now && e.scope === `cluster:${cluster}` && (e.resource === undefined || ids.has(e.resource)));
    return found ? `exempt from ${IMAGE_POLICY} in ${found.scope} until ${found.expiresAt.toISOString()}: ${found.reason}` : undefined;
  }

  private flight<T>(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.lookups.run(key, work) as Promise<T> | undefined;
    if (!running) throw new PalisadeError('admission.busy', 'too many image lookups in flight', { kind: 'unavailable' });
    return running;
  }
}
