/**
 * Usage metering: what Palisade bills for, recorded whether a plan is on or off (DESIGN.md,
 * Plan). Every row carries a source key that makes it count once however many times the thing
 * that caused it is seen again (a resent heartbeat, a retried scan job); costs.ts reads the sums.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../store/index.js';

/** Cores of a node, per hour it was seen by an agent heartbeat or a node-list scan. */
export const CORE_HOURS_METER = 'core_hours';
/** Images scanned (first scans and daily rescans): Defender bills per scanned image. */
export const IMAGE_SCANS_METER = 'image_scans';
const HOUR_MS = 3_600_000;

async function meter(db: Kysely<Database>, row: { meter: string; scope: string; quantity: number; source_key: string; at: Date }): Promise<void> {
  await db.insertInto('usage').values(row).onConflict((oc) => oc.column('source_key').doNothing()).execute();
}

/**
 * Meters a node's cores for the hour containing `at`. The source key is node + hour (whichever of
 * an agent heartbeat or a node-list scan sees it first), so each node-hour is billed exactly once.
 */
export async function meterCoreHour(db: Kysely<Database>, cluster: string, node: string, cores: number, at: Date): Promise<void> {
  if (!(cores > 0)) return;
  const hour = new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);
  // `agent:` because heartbeats metered first; kept so stored keys stay comparable.
  await meter(db, { meter: CORE_HOURS_METER, scope: `cluster:${cluster}`, quantity: cores, source_key: `agent:${cluster}:${node}:${hour.toISOString()}`, at: hour });
}

/** Meters one image scan; `scanKey` is the scan's own once-key, so a retried job is billed once. */
export async function meterImageScan(db: Kysely<Database>, registry: string, scanKey: string, at: Date): Promise<void> {
  await meter(db, { meter: IMAGE_SCANS_METER, scope: `registry:${registry}`, quantity: 1, source_key: scanKey, at });
}
