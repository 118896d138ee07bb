import type { Kysely } from 'kysely';
import { PalisadeError } from '../core/index.js';
import type { Database } from '../store/index.js';
import { CORE_HOURS_METER, IMAGE_SCANS_METER } from './usage/index.js';

/**
 * What protection would cost at Defender's public list prices, from metered usage (node
 * core-hours, image scans) or from a calculator's inputs. Every default is an estimate: list
 * prices vary by region and agreement, so the table lives in configuration and is shown with
 * its source.
 */
export interface PriceTable {
  currency: string;
  /** Hours in a billing month (Azure bills 730). */
  hoursPerMonth: number;
  /** Defender for Containers: per vCore per month, image scans included per billed vCore, then per scan. */
  containers: { perVCoreMonth: number; freeScansPerVCore: number; perExtraScan: number };
  /** The older plans: Defender for Kubernetes per core per month, Defender for container registries per scanned image. */
  legacy: { kubernetesPerCoreMonth: number; registriesPerImage: number };
  /** Which figures are estimates rather than read from a contract. */
  estimates: string[];
  source: string;
}

export const DEFAULT_PRICES: PriceTable = {
  currency: 'USD',
  hoursPerMonth: 730,
  containers: { perVCoreMonth: 6.8693, freeScansPerVCore: 20, perExtraScan: 0.29 },
  legacy: { kubernetesPerCoreMonth: 2, registriesPerImage: 0.29 },
  estimates: ['containers.perVCoreMonth', 'containers.freeScansPerVCore', 'containers.perExtraScan', 'legacy.kubernetesPerCoreMonth', 'legacy.registriesPerImage'],
  source: 'Microsoft Defender for Cloud public pricing page (pay-as-you-go list prices, USD); estimates',
};

/** Overrides from configuration (`prices:` in palisade.yaml) over the defaults; a figure set there is no longer an estimate. */
export function priceTable(overrides: unknown = undefined): PriceTable {
  if (overrides === undefined || overrides === null) return DEFAULT_PRICES;
  if (typeof overrides !== 'object') throw new PalisadeError('config.prices', 'prices must be a mapping', { field: 'prices' });
  const o = overrides as { currency?: unknown; hoursPerMonth?: unknown; containers?: Record<string, unknown>; legacy?: Record<string, unknown> };
  const table: PriceTable = structuredClone(DEFAULT_PRICES);
  const set = (group: 'containers' | 'legacy', key: string, value: unknown) => {
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new PalisadeError('config.prices', `prices.${group}.${key} must be a number >= 0`, { field: `prices.${group}.${key}` });
    (table[group] as Record<string, number>)[key] = value;
    table.estimates = table.estimates.filter((e) => e !== `${group}.${key}`);
  };
  for (const key of Object.keys(DEFAULT_PRICES.containers)) set('containers', key, o.containers?.[key]);
  for (const key of Object.keys(DEFAULT_PRICES.legacy)) set('legacy', key, o.legacy?.[key]);
  if (typeof o.currency === 'string') table.currency = o.currency;
  if (typeof o.hoursPerMonth === 'number' && o.hoursPerMonth > 0) table.hoursPerMonth = o.hoursPerMonth;
  if (o.containers || o.legacy) table.source = 'configuration (prices), defaults for the rest';
  return table;
}

export interface CostLine {
  plan: 'containers' | 'kubernetes (legacy)' | 'registries (legacy)';
  description: string;
  quantity: number;
  unit: string;
  unitPrice: number;
  amount: number;
}

export interface CostEstimate {
  currency: string;
  /** Defender for Containers (covers clusters and registries). */
  containers: { lines: CostLine[]; total: number };
  /** The older per-resource plans, for comparison. */
  legacy: { lines: CostLine[]; total: number };
  estimates: string[];
  source: string;
}

const round = (value: number) => Math.round(value * 100) / 100;

/** The calculator: `cores` vCores running `hours` hours, `images` image scans. */
export function estimateCost(input: { cores: number; hours?: number; images: number }, prices: PriceTable = DEFAULT_PRICES): CostEstimate {
  for (const [field, value] of Object.entries({ cores: input.cores, hours: input.hours ?? prices.hoursPerMonth, images: input.images })) {
    if (!Number.isFinite(value) || value < 0) throw new PalisadeError('cost.input', `${field} must be a number >= 0`, { field, hint: `got ${value}` });
  }
  const coreHours = input.cores * (input.hours ?? prices.hoursPerMonth);
  return estimateFromUsage({ coreHours, imageScans: input.images }, prices);
}

/** Cost of metered usage: core-hours become billed vCore-months; scans beyond the free allowance are charged. */
export function estimateFromUsage(usage: { coreHours: number; imageScans: number }, prices: PriceTable = DEFAULT_PRICES): CostEstimate {
  const vcoreMonths = usage.coreHours / prices.hoursPerMonth;
  const free = Math.floor(vcoreMonths * prices.containers.freeScansPerVCore);
  const extra = Math.max(0, usage.imageScans - free);
  const containers: CostLine[] = [
    { plan: 'containers', description: 'protected vCores', quantity: round(vcoreMonths), unit: 'vCore-month', unitPrice: prices.containers.perVCoreMonth, amount: round(vcoreMonths * prices.containers.perVCoreMonth) },
    { plan: 'containers', description: `image scans beyond ${free} included (${prices.containers.freeScansPerVCore} per billed vCore)`, quantity: extra, unit: 'scan', unitPrice: prices.containers.perExtraScan, amount: round(extra * prices.containers.perExtraScan) },
  ];
  const legacy: CostLine[] = [
    { plan: 'kubernetes (legacy)', description: 'protected cores', quantity: round(vcoreMonths), unit: 'core-month', unitPrice: prices.legacy.kubernetesPerCoreMonth, amount: round(vcoreMonths * prices.legacy.kubernetesPerCoreMonth) },
    { plan: 'registries (legacy)', description: 'scanned images', quantity: usage.imageScans, unit: 'image', unitPrice: prices.legacy.registriesPerImage, amount: round(usage.imageScans * prices.legacy.registriesPerImage) },
  ];
  const total = (lines: CostLine[]) => round(lines.reduce((sum, l) => sum + l.amount, 0));
  return { currency: prices.currency, containers: { lines: containers, total: total(containers) }, legacy: { lines: legacy, total: total(legacy) }, estimates: prices.estimates, source: prices.source };
}

export interface MonthCosts {
  month: string;
  from: Date;
  to: Date;
  /** Share of the month elapsed at `to`. */
  elapsed: number;
  usage: { coreHours: number; imageScans: number };
  /** Metered usage per scope, and whether its plan is on (off scopes are metered, not billed). */
  scopes: { scope: string; coreHours: number; imageScans: number; billed: boolean }[];
  toDate: CostEstimate;
  /** The month's estimate: billed usage so far, extrapolated to the whole month. */
  projected: CostEstimate;
}

/** The month's estimate per plan from the `usage` table (UTC months). */
export async function monthCosts(db: Kysely<Database>, now: Date, prices: PriceTable = DEFAULT_PRICES): Promise<MonthCosts> {
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  const rows = await db.selectFrom('usage').select(['meter', 'scope', (eb) => eb.fn.sum<string>('quantity').as('total')])
    .where('at', '>=', from).where('at', '<', end).groupBy(['meter', 'scope']).execute();
  const plans = await db.selectFrom('plans').select(['scope', 'enabled']).execute();
  const off = new Set(plans.filter((p) => !p.enabled).map((p) => p.scope));
  const byScope = new Map<string, { scope: string; coreHours: number; imageScans: number; billed: boolean }>();
  for (const row of rows) {
    const entry = byScope.get(row.scope) ?? { scope: row.scope, coreHours: 0, imageScans: 0, billed: !off.has(row.scope) };
    if (row.meter === CORE_HOURS_METER) entry.coreHours += Number(row.total);
    else if (row.meter === IMAGE_SCANS_METER) entry.imageScans += Number(row.total);
    byScope.set(row.scope, entry);
  }
  const scopes = [...byScope.values()].sort((a, b) => a.scope.localeCompare(b.scope));
  const billed = scopes.filter((s) => s.billed);
  const usage = { coreHours: billed.reduce((s, x) => s + x.coreHours, 0), imageScans: billed.reduce((s, x) => s + x.imageScans, 0) };
  const elapsed = Math.min(1, Math.max(1 / 24 / 31, (now.getTime() - from.getTime()) / (end.getTime() - from.getTime())));
  return {
    month: from.toISOString().slice(0, 7),
    from,
    to: now,
    elapsed,
    usage,
    scopes,
    toDate: estimateFromUsage(usage, prices),
    projected: estimateFromUsage({ coreHours: usage.coreHours / elapsed, imageScans: Math.round(usage.imageScans / elapsed) }, prices),
  };
}
