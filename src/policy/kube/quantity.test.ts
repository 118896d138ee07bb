import { describe, expect, it } from 'vitest';
import { parseQuantity } from './quantity.js';

describe('Kubernetes quantities', () => {
  it.each([
    ['500m', 0.5],
    ['2', 2],
    ['3500m', 3.5],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['5.', 5],
    ['100n', 100e-9],
    ['250u', 250e-6],
    ['1k', 1000],
    ['129M', 129e6],
    ['129e6', 129e6],
    ['1E3', 1000],
    ['12e-3', 0.012],
    ['2E', 2e18],
    ['128974848', 128974848],
    ['123Mi', 123 * 2 ** 20],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['4Gi', 4 * 2 ** 30],
    ['+1Ki', 1024],
    [2, 2],
  ])('%j is %d', (input, expected) => {
    expect(parseQuantity(input)).toBeCloseTo(expected, 12);
  });

  it.each(['', 'Mi', '1.2.3', '1KiB', '1K', '1 Gi', '0x10', 'e3', '1e', null, undefined, {}, Number.NaN])('%j is no quantity', (input) => {
    expect(parseQuantity(input)).toBeUndefined();
  });
});
