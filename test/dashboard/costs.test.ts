import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { register } from '../../src/cli/cost.js';
import { ManualClock } from '../../src/core/index.js';
import { bearer } from '../support/app.js';
import { createCenterApp } from './support.js';

describe('costs from metered usage', () => {
  let t: Awaited<ReturnType<typeof createCenterApp>>;
  // The 16th of a 30-day month at noon: half the month has passed.
  const clock = new ManualClock(new Date('2026-04-16T00:00:00Z'));
  beforeAll(async () => {
    t = await createCenterApp({ clock });
    const at = new Date('2026-04-10T00:00:00Z');
    await t.store.db.insertInto('usage').values([
      { meter: 'core_hours', scope: 'cluster:prod', quantity: 8 * 360, source_key: 'hb-1', at },
      { meter: 'image_scans', scope: 'registry:acr', quantity: 200, source_key: 'scan-1', at },
      // Metered but not billed: its plan is off.
      { meter: 'core_hours', scope: 'cluster:lab', quantity: 1000, source_key: 'hb-2', at },
      // Last month: not in this month's estimate.
      { meter: 'core_hours', scope: 'cluster:prod', quantity: 99999, source_key: 'hb-old', at: new Date('2026-03-31T23:00:00Z') },
    ]).execute();
    await t.app.inject({ method: 'PUT', url: '/api/v1/plans/cluster:lab', headers: bearer(t.adminToken), payload: { enabled: false } });
  });
  afterAll(async () => t?.close());

  it('estimates the month so far and projected from billed usage only', async () => {
    const response = await t.app.inject({ url: '/api/v1/costs', headers: bearer(t.adminToken) });
    expect(response.statusCode).toBe(200);
    const costs = response.json();
    expect(costs.month).toBe('2026-04');
    expect(costs.usage).toEqual({ coreHours: 2880, imageScans: 200 });
    expect(costs.scopes.find((s: { scope: string }) => s.scope === 'cluster:lab')).toMatchObject({ billed: false, coreHours: 1000 });
    // 2880 core-hours = 3.945 vCore-months; 78 scans included; 122 charged.
    expect(costs.toDate.containers.lines[1].quantity).toBe(122);
    expect(costs.projected.containers.total).toBeGreaterThan(costs.toDate.containers.total * 1.9);
    expect(costs.prices.estimates.length).toBeGreaterThan(0);
  });

  it('answers the calculator', async () => {
    const response = await t.app.inject({ url: '/api/v1/costs/estimate?cores=10&images=250', headers: bearer(t.adminToken) });
    expect(response.json().containers.total).toBeCloseTo(83.19, 1);
    expect((await t.app.inject({ url: '/api/v1/costs/estimate?cores=-3', headers: bearer(t.adminToken) })).statusCode).toBe(400);
  });
});

describe('palisade cost estimate', () => {
  async function run(args: string[]): Promise<string> {
    const program = new Command('palisade').exitOverride();
    register(program);
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    try {
      await program.parseAsync(['node', 'palisade', 'cost', 'estimate', ...args]);
    } finally {
      spy.mockRestore();
    }
    return lines.join('\n');
  }

  it('prints the monthly estimate per plan and says it is an estimate', async () => {
    const out = await run(['--cores', '10', '--images', '250']);
    expect(out).toMatch(/Defender for Containers: 83\.19 USD per month/);
    expect(out).toMatch(/Estimates/);
  });

  it('prints JSON', async () => {
    const out = JSON.parse(await run(['--cores', '2', '--images', '0', '--format', 'json']));
    expect(out.containers.total).toBeCloseTo(13.74, 2);
  });

  it('refuses a bad number', async () => {
    await expect(run(['--cores', 'many'])).rejects.toThrow(/--cores must be a number/);
  });
});
