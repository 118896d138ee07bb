import type { Kysely } from 'kysely';
import { atLeast, systemClock } from '../../core/index.js';
import type { Database } from '../../store/index.js';
import './channels.js';

/**
 * Queues one delivery per (enabled channel, new alert at or above the channel's minimum
 * severity). Delivery rows are unique per channel and alert, so queueing twice sends once.
 * Informational alerts are activity records (who created or deleted what): kept, never sent.
 */
export async function queueNotifications(db: Kysely<Database>, alertIds: string[], now: Date = systemClock.now()): Promise<number> {
  if (!alertIds.length) return 0;
  const channels = await db.selectFrom('notification_channels').select(['id', 'min_severity']).where('enabled', '=', true).execute();
  if (!channels.length) return 0;
  const alerts = await db.selectFrom('alerts').select(['id', 'severity']).where('id', 'in', alertIds).where('severity', '!=', 'informational').execute();
  const rows = channels.flatMap((channel) => alerts
    .filter((alert) => atLeast(alert.severity, channel.min_severity))
    .map((alert) => ({ channel: channel.id, alert_id: alert.id, status: 'pending', next_attempt_at: now, created_at: now })));
  if (!rows.length) return 0;
  await db.insertInto('notification_deliveries').values(rows).onConflict((oc) => oc.columns(['channel', 'alert_id']).doNothing()).execute();
  return rows.length;
}
