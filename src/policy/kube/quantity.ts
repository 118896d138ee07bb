/**
 * Kubernetes resource quantities (`500m`, `2`, `1.5Gi`, `129e6`), read as apimachinery's
 * resource.Quantity grammar reads them: a signed decimal, then one binary (Ki…Ei), decimal
 * (n, u, m, k, M…E) or exponent (e3, E-2) suffix. CPU comes out in cores, memory in bytes.
 */

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
// The exponent form comes before the bare `E` (exa) so `1E3` is a thousand, not an error.
const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$/;

/** The quantity in base units; undefined when it is not a quantity (so a policy never compares NaN). */
export function parseQuantity(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = QUANTITY.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const suffix = m[2] ?? '';
  if (/^[eE][+-]?\d+$/.test(suffix)) return n * 10 ** Number(suffix.slice(1));
  return n * (BINARY[suffix] ?? DECIMAL[suffix]!);
}
