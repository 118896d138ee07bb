import type { ContainerRef } from '../kube/pods.js';
import { containersOf } from '../kube/pods.js';
import type { PolicyContext, PolicyViolation } from '../model.js';

/** Shared empty result: most resources pass most policies, and this is the hot path. */
const NONE: PolicyViolation[] = [];

export const q = (s: unknown): string => JSON.stringify(String(s));

/** Run `check` on each container of the pod; most workload policies are per container. */
export function perContainer<P>(ctx: PolicyContext<P>, check: (c: ContainerRef) => PolicyViolation | PolicyViolation[] | undefined): PolicyViolation[] {
  if (!ctx.pod) return NONE;
  let out: PolicyViolation[] | undefined;
  for (const c of containersOf(ctx.pod)) {
    const v = check(c);
    if (Array.isArray(v)) { if (v.length) (out ??= []).push(...v); } else if (v) (out ??= []).push(v);
  }
  return out ?? NONE;
}

/** `500m` / `2` / `1Gi` / `512Mi` to base units, for limit maximums. */
export function parseQuantity(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const m = /^([0-9.]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit: Record<string, number> = {
    m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, Pi: 1024 ** 5, Ei: 1024 ** 6,
  };
  return m[2] ? n * (unit[m[2]] ?? 1) : n;
}

/** Ranges like `{ min: 1000, max: 65535 }`. */
export interface IdRange { min: number; max: number }
export const inRanges = (value: number, ranges: IdRange[]): boolean => ranges.some((r) => value >= r.min && value <= r.max);
