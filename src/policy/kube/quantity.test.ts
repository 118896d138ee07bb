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

/**
 * Upstream's own table: kubernetes/apimachinery pkg/api/resource/quantity_test.go, TestQuantityParse,
 * at commit cb59c81e909196fc91cfdf7f4cbacf8090438922. Each row is [input, unscaled, exponent] as in
 * upstream's decQuantity(unscaled, exponent, format), i.e. the value unscaled × 10^exponent.
 * Left out on purpose: upstream's "Things that saturate/round" rows (it rounds up to whole nano
 * units and clamps at 2^63-1, e.g. 3.001n → 4n, 9Ei → max); a limit comparison here needs neither.
 */
describe('Kubernetes quantities, upstream apimachinery test table', () => {
  const valid: [string, number, number][] = [
    ['0', 0, 0], ['0n', 0, 0], ['0u', 0, 0], ['0m', 0, 0], ['0Ki', 0, 0], ['0k', 0, 0], ['0Mi', 0, 0],
    ['0M', 0, 0], ['0Gi', 0, 0], ['0G', 0, 0], ['0Ti', 0, 0], ['0T', 0, 0],
    ['1', 1, 0],
    // Binary suffixes
    ['1Ki', 1024, 0], ['8Ki', 8 * 1024, 0], ['7Mi', 7 * 1024 ** 2, 0], ['6Gi', 6 * 1024 ** 3, 0],
    ['5Ti', 5 * 1024 ** 4, 0], ['4Pi', 4 * 1024 ** 5, 0], ['3Ei', 3 * 1024 ** 6, 0],
    ['10Ti', 10 * 1024 ** 4, 0], ['100Ti', 100 * 1024 ** 4, 0],
    // Decimal suffixes
    ['5n', 5, -9], ['4u', 4, -6], ['3m', 3, -3], ['9', 9, 0], ['8k', 8, 3], ['50k', 5, 4], ['7M', 7, 6],
    ['6G', 6, 9], ['5T', 5, 12], ['40T', 4, 13], ['300T', 3, 14], ['2P', 2, 15], ['1E', 1, 18],
    // Decimal exponents
    ['1E-3', 1, -3], ['1e3', 1, 3], ['1E6', 1, 6], ['1e9', 1, 9], ['1E12', 1, 12], ['1e15', 1, 15], ['1E18', 1, 18],
    // Nonstandard but still parsable
    ['1e14', 1, 14], ['1e13', 1, 13], ['100.035k', 100035, 0],
    // Things that look like floating point
    ['0.001', 1, -3], ['0.0005k', 5, -1], ['0.005', 5, -3], ['0.05', 5, -2], ['0.5', 5, -1], ['0.00050k', 5, -1],
    ['0.00500', 5, -3], ['0.05000', 5, -2], ['0.50000', 5, -1], ['0.5e0', 5, -1], ['0.5e-1', 5, -2], ['0.5e-2', 5, -3],
    ['10.035M', 10035, 3],
    ['1.2e3', 12, 2], ['1.3E+6', 13, 5], ['1.40e9', 14, 8], ['1.53E12', 153, 10], ['1.6e15', 16, 14], ['1.7E18', 17, 17],
    ['9.01', 901, -2], ['8.1k', 81, 2], ['7.123456M', 7123456, 0], ['6.987654321G', 6987654321, 0], ['5.444T', 5444, 9],
    ['40.1T', 401, 11], ['300.2T', 3002, 11], ['2.5P', 25, 14], ['1.01E', 101, 16],
    ['12E', 12, 18],
    // We'll accept fractional binary stuff, too.
    ['100.035Ki', 10243584, -2], ['0.5Mi', 0.5 * 1024 ** 2, 0], ['0.05Gi', 536870912, -1], ['0.025Ti', 274877906944, -1],
    // Things written by trolls (bar the one that rounds)
    ['.001', 1, -3], ['.0001k', 100, -3], ['1.', 1, 0], ['1.G', 1, 9],
  ];

  // Upstream parses every row again with a leading '-' and a leading '+'.
  const signed = valid.flatMap(([input, unscaled, exponent]): [string, number][] => {
    const value = unscaled * 10 ** exponent;
    return [[input, value], [`-${input}`, -value], [`+${input}`, value]];
  });

  it.each(signed)('%s is %d', (input, expected) => {
    const got = parseQuantity(input);
    expect(got).toBeDefined();
    // Relative, not absolute, closeness: the table spans 1e-9 to 1e19.
    expect(Math.abs(got! - expected)).toBeLessThanOrEqual(Math.abs(expected) * 1e-12);
  });

  // Upstream's invalid list, bar " 1" and "1 ": parseQuantity trims surrounding white space, which
  // upstream rejects (so a quantity read from a manifest the API server refused is still compared).
  it.each(['1.1.M', '1+1.0M', '0.1mi', '0.1am', 'aoeu', '.5i', '1i', '-3.01i', '-3.01e-'])('%j is no quantity', (input) => {
    expect(parseQuantity(input)).toBeUndefined();
  });
});
