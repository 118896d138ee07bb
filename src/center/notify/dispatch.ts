import { sql, type Kysely } from 'kysely';
import { type Clock, systemClock } from '../../core/index.js';
import type { Database } from '../../store/index.js';
import { getAlert } from '../alerts.js';
import { incidentKeys } from '../incidents.js';
import { listChannels, openChannel, type Channel } from './channels.js';
import { sendToChannel } from './send.js';

/** Attempts per delivery before it is marked failed (visible in settings). */
export const MAX_ATTEMPTS = 5;
const CLAIM_MS = 60_000;
const BATCH = 100;

export function retryDelayMs(attempts: number): number {
  // 30 s, 1 min, 2 min, 4 min: a receiver restart or a short outage loses nothing.
  return Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 15 * 60_000);
}

/** `merged`: deliveries not sent because their alert joined an incident already announced on that channel. */
export interface DispatchResult { sent: number; failed: number; retried: number; merged: number }

/**
 * Sends due deliveries. Rows are claimed with FOR UPDATE SKIP LOCKED and a claim deadline, so
 * several servers on one PostgreSQL never send the same delivery twice, and a server that dies
 * mid-send leaves it to another after the deadline. Digest channels send one message with every
 * pending alert once the oldest has waited the digest interval.
 */
export async function dispatchNotifications(db: Kysely<Database>, options: { clock?: Clock; dashboardUrl?: string; secretKey?: string } = {}): Promise<DispatchResult> {
  const clock = options.clock ?? systemClock;
  const now = clock.now();
  const result: DispatchResult = { sent: 0, failed: 0, retried: 0, merged: 0 };
  const channels = new Map((await listChannels(db)).filter((c) => c.enabled).map((c) => [c.id, c]));
  if (!channels.size) return result;

  const due: string[] = [];
  for (const channel of channels.values()) {
    if (!channel.digestMinutes) {
      due.push(channel.id);
      continue;
    }
    const oldest = await db.selectFrom('notification_deliveries').select((eb) => eb.fn.min('created_at').as('oldest'))
      .where('channel', '=', channel.id).where('status', '=', 'pending').executeTakeFirst();
    const at = oldest?.oldest ? new Date(oldest.oldest as unknown as string) : undefined;
    if (at && now.getTime() - at.getTime() >= channel.digestMinutes * 60_000) due.push(channel.id);
  }
  if (!due.length) return result;

  const claimed = await db.transaction().execute(async (tx) => {
    const ids = await sql<{ id: string }>`
      select id from notification_deliveries
      where status = 'pending' and next_attempt_at <= ${now} and (claimed_until is null or claimed_until < ${now})
        and channel in (${sql.join(due)})
      order by id limit ${BATCH} for update skip locked`.execute(tx);
    if (!ids.rows.length) return [];
    return tx.updateTable('notification_deliveries').set({ claimed_until: new Date(now.getTime() + CLAIM_MS) })
      .where('id', 'in', ids.rows.map((r) => r.id)).returningAll().execute();
  });

  const byChannel = new Map<string, typeof claimed>();
  const announce = await onePerIncident(db, claimed.filter((r) => !channels.get(r.channel)!.digestMinutes), now);
  result.merged = claimed.length - announce.length - claimed.filter((r) => channels.get(r.channel)!.digestMinutes).length;
  for (const row of [...announce, ...claimed.filter((r) => channels.get(r.channel)!.digestMinutes)]) byChannel.set(row.channel, [...(byChannel.get(row.channel) ?? []), row]);
  for (const [channelId, rows] of byChannel) {
    const channel = channels.get(channelId)!;
    // A digest is one message; an immediate channel sends one message per alert.
    const groups = channel.digestMinutes ? [rows] : rows.map((r) => [r]);
    for (const group of groups) {
      const outcome = await deliver(db, channel, group, clock, options.dashboardUrl, options.secretKey);
      result[outcome] += group.length;
    }
  }
  return result;
}

/**
 * Notifications go out once per incident (issue 18): of an immediate channel's deliveries, only
 * the first alert of each incident is sent; the others are marked `merged`, naming the incident
 * and the alert that announced it. The (channel, incident) row is claimed with an insert, so two
 * servers dispatching at once cannot both announce one incident; a retry of the announcing
 * delivery finds its own row and is sent.
 */
async function onePerIncident<T extends { id: string; channel: string; alert_id: string }>(db: Kysely<Database>, rows: T[], now: Date): Promise<T[]> {
  if (!rows.length) return rows;
  const incidents = await incidentKeys(db, [...new Set(rows.map((r) => r.alert_id))]);
  const send: T[] = [];
  for (const row of [...rows].sort((a, b) => Number(a.id) - Number(b.id))) {
    const incident = incidents.get(row.alert_id)!;
    await db.insertInto('incident_notifications').values({ channel: row.channel, incident_id: incident, alert_id: row.alert_id, at: now })
      .onConflict((oc) => oc.columns(['channel', 'incident_id']).doNothing()).execute();
    const owner = await db.selectFrom('incident_notifications').select('alert_id').where('channel', '=', row.channel).where('incident_id', '=', incident).executeTakeFirst();
    if (!owner || owner.alert_id === row.alert_id) {
      send.push(row);
      continue;
    }
    await db.updateTable('notification_deliveries')
      .set({ status: 'merged', sent_at: now, claimed_until: null, last_error: `part of incident ${incident}, announced with alert ${owner.alert_id}` })
      .where('id', '=', row.id).execute();
  }
  return send;
}

async function deliver(db: Kysely<Database>, channel: Channel, rows: { id: string; alert_id: string; attempts: number }[], clock: Clock, dashboardUrl?: string, secretKey?: string): Promise<'sent' | 'failed' | 'retried'> {
  const alerts = (await Promise.all(rows.map((r) => getAlert(db, r.alert_id)))).filter((a) => a !== undefined);
  const ids = rows.map((r) => r.id);
  try {
    if (alerts.length) await sendToChannel(openChannel(channel, secretKey), { alerts, dashboardUrl });
    const at = clock.now();
    await db.updateTable('notification_deliveries').set({ status: 'sent', sent_at: at, claimed_until: null, attempts: sql`attempts + 1`, last_error: null }).where('id', 'in', ids).execute();
    await db.updateTable('notification_channels').set({ last_success_at: at }).where('id', '=', channel.id).execute();
    return 'sent';
  } catch (error) {
    const at = clock.now();
    const message = (error as Error).message.slice(0, 500);
    const attempts = Math.max(...rows.map((r) => r.attempts)) + 1;
    const giveUp = attempts >= MAX_ATTEMPTS;
    await db.updateTable('notification_deliveries').set({
      status: giveUp ? 'failed' : 'pending',
      attempts,
      last_error: message,
      claimed_until: null,
      next_attempt_at: new Date(at.getTime() + retryDelayMs(attempts)),
    }).where('id', 'in', ids).execute();
    await db.updateTable('notification_channels').set({ last_error: message, last_error_at: at }).where('id', '=', channel.id).execute();
    return giveUp ? 'failed' : 'retried';
  }
}

/** Delivery counts per channel and status, for the settings page. */
export async function deliveryStats(db: Kysely<Database>): Promise<Map<string, Record<string, number>>> {
  const rows = await db.selectFrom('notification_deliveries').select(['channel', 'status', (eb) => eb.fn.countAll<string>().as('n')]).groupBy(['channel', 'status']).execute();
  const stats = new Map<string, Record<string, number>>();
  for (const row of rows) stats.set(row.channel, { ...(stats.get(row.channel) ?? {}), [row.status]: Number(row.n) });
  return stats;
}

export async function listDeliveries(db: Kysely<Database>, filter: { channel?: string; status?: string }, limit: number, afterId?: string) {
  let query = db.selectFrom('notification_deliveries').selectAll();
  if (filter.channel) query = query.where('channel', '=', filter.channel);
  if (filter.status) query = query.where('status', '=', filter.status);
  if (afterId) query = query.where('id', '<', afterId);
  return query.orderBy('id', 'desc').limit(limit).execute();
}

/** Runs dispatchNotifications every few seconds until stopped; one run at a time. */
export class NotificationDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly db: Kysely<Database>, private readonly options: { clock?: Clock; dashboardUrl?: string; secretKey?: string; intervalMs?: number; onError?: (error: unknown) => void } = {}) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.runOnce(), this.options.intervalMs ?? 5000);
    this.timer.unref();
  }

  runOnce(): Promise<unknown> {
    this.running ??= dispatchNotifications(this.db, this.options).catch((error) => this.options.onError?.(error)).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
