import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { alertEntities, getAlert, listAlerts, setAlertStatus, type AlertFilter } from '../../../center/index.js';
import { SEVERITIES, type AlertStatus } from '../../../core/index.js';
import { settleIncidents } from '../../../graph/index.js';
import { recordAction } from '../../../store/index.js';
import { actorOf } from '../../auth.js';
import type { ServerContext } from '../../context.js';
import { NotFound } from '../../errors.js';
import { decodeCursorAs, ListQuery, page } from '../../pagination.js';

const csv = (pattern: string) => Type.Optional(Type.String({ pattern: `^(${pattern})(,(${pattern}))*$` }));

const AlertQuery = Type.Intersect([ListQuery, Type.Object({
  severity: csv(SEVERITIES.join('|')),
  status: csv('active|dismissed|resolved'),
  source: csv('audit|agent|registry|admission'),
  cluster: Type.Optional(Type.String({ maxLength: 253 })),
  namespace: Type.Optional(Type.String({ maxLength: 253 })),
  resource: Type.Optional(Type.String({ maxLength: 600 })),
  tactic: Type.Optional(Type.String({ maxLength: 100 })),
  rule: Type.Optional(Type.String({ maxLength: 200 })),
  since: Type.Optional(Type.String({ format: 'date-time' })),
  q: Type.Optional(Type.String({ maxLength: 200 })),
})]);

/** Security alerts: list with filters (incidents: ./incidents.ts), one alert, and the dismiss / resolve / reopen actions. */
export async function alertRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  const { db } = context.store;

  app.get('/alerts', { config: { auth: 'reader' }, schema: { tags: ['alerts'], querystring: AlertQuery } }, async (request) => {
    const q = request.query as Record<string, string | number | undefined>;
    const limit = Number(q.limit ?? 50);
    const filter: AlertFilter = {
      severity: split(q.severity) as AlertFilter['severity'],
      status: split(q.status) as AlertFilter['status'],
      source: split(q.source) as AlertFilter['source'],
      cluster: q.cluster as string | undefined,
      namespace: q.namespace as string | undefined,
      resource: q.resource as string | undefined,
      tactic: q.tactic as string | undefined,
      rule: q.rule as string | undefined,
      since: q.since ? new Date(q.since as string) : undefined,
      search: q.q as string | undefined,
    };
    const after = decodeCursorAs(q.cursor as string | undefined, ['time', 'string']);
    const rows = await listAlerts(db, filter, limit + 1, after);
    // The identities each alert concerns (issue 18): owner workload, pod, container, image digest, node, user.
    const entities = await alertEntities(db, rows.slice(0, limit));
    return page(rows.map((a) => ({ ...a, entities: entities.get(a.id) ?? [] })), limit, (a) => [a.lastSeen.toISOString(), a.id]);
  });

  app.get('/alerts/:id', { config: { auth: 'reader' }, schema: { tags: ['alerts'], params: Type.Object({ id: Type.String({ maxLength: 80 }) }) } }, async (request) => {
    const { id } = request.params as { id: string };
    const alert = await getAlert(db, id);
    if (!alert) throw new NotFound(`no alert ${id}`);
    await settleIncidents(db);
    return { ...alert, entities: (await alertEntities(db, [alert])).get(alert.id) ?? [] };
  });

  app.post('/alerts/:id/status', {
    schema: {
      tags: ['alerts'],
      params: Type.Object({ id: Type.String({ maxLength: 80 }) }),
      body: Type.Object({ status: Type.Union([Type.Literal('active'), Type.Literal('dismissed'), Type.Literal('resolved')]), reason: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false }),
    },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const { status, reason } = request.body as { status: AlertStatus; reason?: string };
    if (!(await setAlertStatus(db, id, status))) throw new NotFound(`no alert ${id}`);
    await recordAction(db, { actor: actorOf(request), action: `alert.${status}`, target: id, details: reason ? { reason } : {}, at: context.clock.now() });
    return getAlert(db, id);
  });
}

function split(value: string | number | undefined): string[] | undefined {
  return value === undefined ? undefined : String(value).split(',');
}
