import { PalisadeError } from '../../core/index.js';
import type { PodView } from '../kube/pods.js';
import { PSA_CHECKS, type PsaCheckRevision, type PsaLevel, type PsaViolation } from './checks.js';

/** The newest Pod Security Standards version the checks know (`latest` resolves to it). */
export const PSA_LATEST_MINOR = 37;

/** `v1.25`, `1.25` or `latest` to the minor number; versions newer than we know behave as latest, like upstream. */
export function parsePsaVersion(version: string): number {
  if (version === 'latest') return PSA_LATEST_MINOR;
  const m = /^v?1\.(\d+)$/.exec(version.trim());
  if (!m) {
    throw new PalisadeError('policy.psa_version', `invalid Pod Security Standards version ${JSON.stringify(version)}`, {
      field: 'version', hint: 'use "latest" or a Kubernetes minor version such as "v1.30"',
    });
  }
  return Math.min(Number(m[1]), PSA_LATEST_MINOR);
}

export function isPsaLevel(value: unknown): value is PsaLevel {
  return value === 'baseline' || value === 'restricted';
}

interface CompiledCheck {
  id: string;
  level: PsaLevel;
  reason: string;
  revision: PsaCheckRevision;
}

const compiled: Record<PsaLevel, (CompiledCheck[] | undefined)[]> = { baseline: [], restricted: [] };

/** The revisions that apply at a level and version, computed once per (level, version). */
function checksFor(level: PsaLevel, minor: number): CompiledCheck[] {
  const cached = compiled[level][minor];
  if (cached) return cached;
  const selected: CompiledCheck[] = [];
  for (const check of PSA_CHECKS) {
    if (level === 'baseline' && check.level === 'restricted') continue;
    let revision: PsaCheckRevision | undefined;
    for (const r of check.revisions) if (r.minimumVersion <= minor) revision = r;
    if (revision) selected.push({ id: check.id, level: check.level, reason: check.reason, revision });
  }
  const overridden = new Set(selected.flatMap((c) => c.revision.overrides ?? []));
  const result = selected.filter((c) => !overridden.has(c.id));
  compiled[level][minor] = result;
  return result;
}

/**
 * Check results per pod view and revision: the baseline and restricted policies evaluate the same
 * pod, and restricted includes every baseline check, so each revision runs once per pod.
 */
const NONE: PsaViolation[] = [];
const resultCache = new WeakMap<PodView, Map<PsaCheckRevision, PsaViolation[]>>();

/** Every Pod Security Standards violation of a pod at a level and version; empty means allowed. */
export function evaluatePodSecurity(pod: PodView, level: PsaLevel, version: string | number = 'latest'): PsaViolation[] {
  const minor = typeof version === 'number' ? Math.min(version, PSA_LATEST_MINOR) : parsePsaVersion(version);
  let cache = resultCache.get(pod);
  if (!cache) { cache = new Map(); resultCache.set(pod, cache); }
  const out: PsaViolation[] = [];
  for (const check of checksFor(level, minor)) {
    let found = cache.get(check.revision);
    if (!found) {
      const raw = check.revision.check(pod);
      found = raw.length === 0 ? NONE : raw.map((v) => ({ check: check.id, level: check.level, reason: check.reason, ...v }));
      cache.set(check.revision, found);
    }
    for (const v of found) out.push(v);
  }
  return out;
}
