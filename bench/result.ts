/** One line of benchmark output (DESIGN.md conventions). */
export interface BenchFields {
  bench: string;
  metric: string;
  value: number;
  baseline: string;
  baseline_value: number;
  target: string;
  ok: boolean;
}

export interface BenchResult extends BenchFields {
  /** value / baseline_value, both measured in the same run. */
  ratio: number;
  [extra: string]: unknown;
}

/** Builds a result line; `ratio` is computed unless given, and extra fields pass through. */
export function result(fields: BenchFields & { ratio?: number; [extra: string]: unknown }): BenchResult {
  const ratio = fields.ratio ?? (fields.baseline_value ? fields.value / fields.baseline_value : 0);
  return { ...fields, ratio: Math.round(ratio * 1000) / 1000 };
}
