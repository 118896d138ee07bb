import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  createChannel, deleteChannel, deliveryStats, getChannel, listChannels, listDeliveries, NotificationDispatcher, openChannel, redactSettings, sendToChannel, updateChannel,
  type Channel, type ChannelInput,
} from '../../../center/index.js';
import { SEVERITIES } from '../../../core/index.js';
import { recordAction } from '../../../store/index.js';
import { actorOf } from '../../auth.js';
import type { ServerContext } from '../../context.js';
import { NotFound } from '../../errors.js';
import { ListQuery, decodeCursorAs, page } from '../../pagination.js';

const Severity = Type.Union(SEVERITIES.map((s) => Type.Literal(s)));
const ChannelBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 120 }),
  kind: Type.Union(['webhook', 'slack', 'teams', 'email'].map((s) => Type.Literal(s))),
  settings: Type.Record(Type.String(), Type.Unknown()),
  minSeverity: Type.Optional(Severity),
  digestMinutes: Type.Optional(Type.Integer({ minimum: 0, maximum: 1440 })),
  enabled: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });
const Id = Type.Object({ id: Type.String({ maxLength: 80 }) });

/**
 * Notification channels (webhook, Slack, Teams, email) with their delivery state, and the
 * dispatcher that sends queued deliveries while the server runs. Secrets are write-only.
 */
export async function notificationRoutes(app: FastifyInstance, { context, dispatch = true }: { context: ServerContext; dispatch?: boolean }) {
  const { db } = context.store;
  const dashboardUrl = context.config.publicUrl;
  const secretKey = context.config.secretKey;

  async function view(channel: Channel, stats?: Record<string, number>) {
    return {
      id: channel.id, name: channel.name, kind: channel.kind, settings: redactSettings(channel, secretKey), minSeverity: channel.minSeverity,
      digestMinutes: channel.digestMinutes, enabled: channel.enabled, createdAt: channel.createdAt,
      lastSuccessAt: channel.lastSuccessAt, lastError: channel.lastError, lastErrorAt: channel.lastErrorAt,
      deliveries: { pending: stats?.pending ?? 0, sent: stats?.sent ?? 0, failed: stats?.failed ?? 0 },
    };
  }

  app.get('/notifications/channels', { schema: { tags: ['notifications'] } }, async () => {
    const stats = await deliveryStats(db);
    return { items: await Promise.all((await listChannels(db)).map((c) => view(c, stats.get(c.id)))) };
  });

  app.post('/notifications/channels', { schema: { tags: ['notifications'], body: ChannelBody } }, async (request, reply) => {
    const channel = await createChannel(db, request.body as ChannelInput, context.clock, secretKey);
    await recordAction(db, { actor: actorOf(request), action: 'notify.channel.create', target: channel.id, details: { kind: channel.kind, name: channel.name }, at: context.clock.now() });
    return reply.status(201).send(await view(channel));
  });

  app.patch('/notifications/channels/:id', { schema: { tags: ['notifications'], params: Id, body: Type.Partial(Type.Omit(ChannelBody, ['kind'])) } }, async (request) => {
    const { id } = request.params as { id: string };
    const channel = await updateChannel(db, id, request.body as Partial<ChannelInput>, secretKey);
    await recordAction(db, { actor: actorOf(request), action: 'notify.channel.update', target: id, at: context.clock.now() });
    return view(channel, (await deliveryStats(db)).get(id));
  });

  app.delete('/notifications/channels/:id', { schema: { tags: ['notifications'], params: Id } }, async (request) => {
    const { id } = request.params as { id: string };
    await deleteChannel(db, id);
    await recordAction(db, { actor: actorOf(request), action: 'notify.channel.delete', target: id, at: context.clock.now() });
    return { deleted: id };
  });

  /** Sends a test message now and says whether it arrived (the settings page's "Send test"). */
  app.post('/notifications/channels/:id/test', { schema: { tags: ['notifications'], params: Id } }, async (request) => {
    const { id } = request.params as { id: string };
    const channel = await getChannel(db, id);
    if (!channel) throw new NotFound(`no channel ${id}`);
    try {
      await sendToChannel(openChannel(channel, secretKey), { alerts: [], test: true, dashboardUrl });
      await db.updateTable('notification_channels').set({ last_success_at: context.clock.now() }).where('id', '=', id).execute();
      return { ok: true };
    } catch (error) {
      const message = (error as Error).message.slice(0, 500);
      await db.updateTable('notification_channels').set({ last_error: message, last_error_at: context.clock.now() }).where('id', '=', id).execute();
      return { ok: false, error: message };
    }
  });

  app.get('/notifications/deliveries', {
    schema: { tags: ['notifications'], querystring: Type.Intersect([ListQuery, Type.Object({ channel: Type.Optional(Type.String({ maxLength: 80 })), status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('sent'), Type.Literal('failed')])) })]) },
  }, async (request) => {
    const q = request.query as ListQuery & { channel?: string; status?: string };
    const limit = q.limit ?? 50;
    const after = decodeCursorAs(q.cursor, ['string']);
    const rows = await listDeliveries(db, { channel: q.channel, status: q.status }, limit + 1, after?.[0]);
    return page(rows.map((r) => ({ id: String(r.id), channel: r.channel, alertId: r.alert_id, status: r.status, attempts: r.attempts, lastError: r.last_error, nextAttemptAt: r.next_attempt_at, createdAt: r.created_at, sentAt: r.sent_at })), limit, (r) => [r.id]);
  });

  if (dispatch) {
    const dispatcher = new NotificationDispatcher(db, { clock: context.clock, dashboardUrl, secretKey, onError: (error) => app.log.warn({ err: error }, 'notification dispatch failed') });
    app.addHook('onReady', async () => dispatcher.start());
    app.addHook('preClose', async () => dispatcher.stop());
  }
}
