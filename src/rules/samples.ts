import { ruleError } from './condition.js';

/**
 * Every rule ships with events that must fire it and events that must not (gatekeeper-library's
 * example_allowed / example_disallowed habit). A sample is one event, or `{ sequence: [...] }`
 * for stateful rules, whose items may say `repeat: N` and `every: 30m`; the last event is judged.
 * The capability turns what the YAML says into a complete event (`build`).
 */
export interface RuleSample<E> {
  events: E[];
}

export interface RuleSamples<E> {
  fire: RuleSample<E>[];
  quiet: RuleSample<E>[];
}

type Json = Record<string, unknown>;

/** Sample sequences start here, one minute apart unless `every` says otherwise. */
const SAMPLE_EPOCH = Date.UTC(2025, 5, 1, 12, 0, 0);

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: unknown, code: string, where: string): number {
  if (typeof value === 'number') return value;
  const m = typeof value === 'string' ? DURATION.exec(value) : null;
  if (!m) ruleError(code, where, `${JSON.stringify(value)} is not a duration`, 'write it like 30s, 15m, 24h or 7d');
  return Number(m[1]) * UNIT[m[2]!]!;
}

/** `patch` over `base`; `null` in the patch deletes a key. */
export function deepMerge(base: unknown, patch: unknown): unknown {
  if (typeof base !== 'object' || base === null || Array.isArray(base) || typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    return patch === undefined ? base : patch;
  }
  const out: Json = { ...(base as Json) };
  for (const [k, v] of Object.entries(patch as Json)) out[k] = v === null ? undefined : deepMerge(out[k], v);
  return out;
}

/**
 * Turns a rule's `samples: { fire, quiet }` into events. `build(item, where, n, atMs)` makes the
 * n-th event of a sample (`repeat`/`every` already read off `item`) at time atMs.
 */
export function parseSamples<E>(value: unknown, code: string, where: string, build: (item: Json, where: string, n: number, atMs: number) => E, options: { required?: boolean } = {}): RuleSamples<E> {
  const v = (value ?? {}) as Json;
  const list = (x: unknown, kind: string): RuleSample<E>[] => {
    if (x === undefined) return [];
    if (!Array.isArray(x)) ruleError(code, `${where}.${kind}`, 'must be a list of sample events');
    return x.map((s, i) => {
      const w = `${where}.${kind}[${i}]`;
      if (typeof s !== 'object' || s === null) ruleError(code, w, 'a sample is an event object');
      const isSeq = Array.isArray((s as Json).sequence);
      const seq = isSeq ? ((s as Json).sequence as unknown[]) : [s];
      const events: E[] = [];
      let at = SAMPLE_EPOCH;
      seq.forEach((e, j) => {
        const ws = isSeq ? `${w}.sequence[${j}]` : w;
        if (typeof e !== 'object' || e === null) ruleError(code, ws, 'a sample is an event object');
        const { repeat, every, ...item } = e as Json;
        const times = typeof repeat === 'number' ? repeat : 1;
        const step = every === undefined ? 60_000 : parseDuration(every, code, `${ws}.every`);
        for (let k = 0; k < times; k++) {
          events.push(build(item, ws, events.length, at));
          at += step;
        }
      });
      return { events };
    });
  };
  const samples = { fire: list(v.fire, 'fire'), quiet: list(v.quiet, 'quiet') };
  if (options.required && (samples.fire.length === 0 || samples.quiet.length === 0)) ruleError(code, `${where}`, 'every rule needs at least one fire and one quiet sample');
  return samples;
}

export interface SampleVerdict {
  kind: 'fire' | 'quiet';
  index: number;
  ok: boolean;
}

/**
 * The one sample runner: `fired(events)` says, event by event, whether the rule fired. A fire
 * sample passes when its last event fires; a quiet sample when none does.
 */
export function judgeSamples<E>(samples: RuleSamples<E>, fired: (events: E[]) => boolean[]): SampleVerdict[] {
  return [
    ...samples.fire.map((s, index) => ({ kind: 'fire' as const, index, ok: fired(s.events).at(-1) === true })),
    ...samples.quiet.map((s, index) => ({ kind: 'quiet' as const, index, ok: !fired(s.events).some(Boolean) })),
  ];
}
