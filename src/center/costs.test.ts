import { describe, expect, it } from 'vitest';
import { DEFAULT_PRICES, estimateCost, estimateFromUsage, priceTable } from './costs.js';

describe('cost estimates at Defender list prices', () => {
  it('charges vCore-months and only the scans beyond 20 per billed vCore', () => {
    const within = estimateCost({ cores: 10, images: 200 });
    expect(within.containers.lines[0]!.amount).toBeCloseTo(10 * DEFAULT_PRICES.containers.perVCoreMonth, 2);
    expect(within.containers.lines[1]!.quantity).toBe(0);
    const beyond = estimateCost({ cores: 10, images: 250 });
    expect(beyond.containers.lines[1]!.quantity).toBe(50);
    expect(beyond.containers.lines[1]!.amount).toBeCloseTo(50 * 0.29, 2);
    expect(beyond.containers.total).toBeCloseTo(68.69 + 14.5, 1);
  });

  it('prices the older plans per core and per scanned image', () => {
    const e = estimateCost({ cores: 4, images: 100 });
    expect(e.legacy.lines[0]!.amount).toBeCloseTo(4 * DEFAULT_PRICES.legacy.kubernetesPerCoreMonth, 2);
    expect(e.legacy.lines[1]!.amount).toBeCloseTo(29, 2);
  });

  it('scales with hours: half a month of cores costs half', () => {
    const half = estimateCost({ cores: 8, hours: 365, images: 0 });
    const full = estimateCost({ cores: 8, images: 0 });
    expect(half.containers.total * 2).toBeCloseTo(full.containers.total, 1);
    expect(estimateFromUsage({ coreHours: 730 * 8, imageScans: 0 }).containers.total).toBeCloseTo(full.containers.total, 2);
  });

  it('marks defaults as estimates and configured figures as not', () => {
    expect(DEFAULT_PRICES.estimates).toContain('containers.perVCoreMonth');
    const custom = priceTable({ containers: { perVCoreMonth: 5 } });
    expect(custom.containers.perVCoreMonth).toBe(5);
    expect(custom.estimates).not.toContain('containers.perVCoreMonth');
    expect(custom.estimates).toContain('containers.perExtraScan');
    expect(() => priceTable({ legacy: { registriesPerImage: -1 } })).toThrow(/registriesPerImage/);
  });

  it('rejects negative or non-numeric inputs', () => {
    expect(() => estimateCost({ cores: -1, images: 0 })).toThrow(/cores/);
    expect(() => estimateCost({ cores: 1, images: Number.NaN })).toThrow(/images/);
  });
});
