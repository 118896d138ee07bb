/** One line of benchmark output (DESIGN.md conventions). */
export interface BenchResult {
  bench: string;
  metric: string;
  value: number;
  baseline: string;
  baseline_value: number;
  /** value / baseline_value, both measured in the same run. */
  ratio: number;
  target: string;
  ok: boolean;
  [extra: string]: unknown;
}

export function result(fields: Omit<BenchResult, 'ratio'> & { ratio?: number }): BenchResult {
  const ratio = fields.ratio ?? (fields.baseline_value ? fields.value / fields.baseline_value : 0);
  return { ...fields, ratio: Math.round(ratio * 1000) / 1000 };
}
