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

/** Ranges like `{ min: 1000, max: 65535 }`. */
export interface IdRange { min: number; max: number }
export const inRanges = (value: number, ranges: IdRange[]): boolean => ranges.some((r) => value >= r.min && value <= r.max);
