/**
 * The server side of node agents' batches (POST /ingest/agent): node inventory and core-hour
 * metering from heartbeats, event and alert ids stored once, and the alerts of new ids handed to
 * the threat intake. It lives in the center, not in agent/, so the program that runs on nodes
 * imports no store and no query builder.
 */
import type { Kysely } from 'kysely';
import type { AgentBatch } from '../../agent/index.js';
import type { ResourceRef } from '../../core/index.js';
import { inTransaction, touchCluster, upsertAgentNode, type Database } from '../../store/index.js';
import type { DetectedThreat } from '../alerts.js';
import { meterCoreHour } from '../usage/index.js';
import type { ThreatIntake } from './threats.js';

export interface AgentEventTable {
  id: string;
  cluster: string;
  node: string;
  kind: string;
  at: Date | string;
  received_at?: Date | string;
}

declare module '../../store/schema.js' {
  interface Database {
    agent_events: AgentEventTable;
  }
}

/** Ids per statement: well under PostgreSQL's bound-parameter limit. */
const IDS_PER_QUERY = 1000;
const ROWS_PER_INSERT = 500;

/**
 * Upserts the node from its inventory and meters its cores for the hour of the heartbeat. The
 * source key is node + hour, so every node-hour with a heartbeat is metered exactly once however
 * many heartbeats (or resends) arrive in it. Metered whether the plan is on or off.
 */
export async function recordAgentHeartbeat(db: Kysely<Database>, cluster: string, batch: Pick<AgentBatch, 'node' | 'heartbeat'>, now: Date): Promise<void> {
  const { node, heartbeat: hb } = batch;
  const at = hb ? new Date(hb.at) : now;
  const seen = Number.isNaN(at.getTime()) || at > now ? now : at;
  // The sensor is reported by the heartbeat's health (newer agents) or the node inventory.
  const sensor = hb?.sensor ?? node.sensor;
  // A field the heartbeat leaves out is stored as null: upsertAgentNode takes a report whole.
  const health = hb && (sensor || hb.lostEvents !== undefined || hb.droppedEvents !== undefined)
    ? { at: seen, sensor, sensorReason: hb.sensorReason || undefined, lostEvents: hb.lostEvents, droppedEvents: hb.droppedEvents, droppedByReason: hb.droppedByReason }
    : undefined;
  await inTransaction(db, async (tx) => {
    await touchCluster(tx, cluster, now);
    await upsertAgentNode(tx, cluster, node, seen, health);
    if (hb && node.cores) await meterCoreHour(tx, cluster, node.name, node.cores, seen);
  });
}

export interface AgentBatchOutcome {
  /** Events stored for the first time. */
  events: number;
  duplicates: number;
  alerts: { created: number; updated: number };
}

/**
 * Records a batch whose plan is on: the alerts of ids not received before become threats, and
 * those ids are stored in the same transaction as the alerts (the intake's commit), so a resend
 * is counted once and a failed answer loses nothing.
 */
export async function ingestAgentBatch(db: Kysely<Database>, intake: ThreatIntake, cluster: string, batch: AgentBatch, now: Date): Promise<AgentBatchOutcome> {
  const ids = [...new Set([...batch.events.map((e) => e.id), ...batch.alerts.map((a) => a.id)])];
  const known = new Set<string>();
  for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
    const rows = await db.selectFrom('agent_events').select('id').where('id', 'in', ids.slice(i, i + IDS_PER_QUERY)).execute();
    for (const row of rows) known.add(row.id);
  }
  const seenInBatch = new Set<string>();
  const isNew = (id: string) => !known.has(id) && !seenInBatch.has(id) && Boolean(seenInBatch.add(id));
  const freshEvents = batch.events.filter((e) => isNew(e.id));
  const newAlerts = batch.alerts.filter((a) => isNew(a.id));
  const rows = [
    ...freshEvents.map((e) => ({ id: e.id, cluster, node: batch.node.name, kind: e.kind, at: validDate(e.at, now) })),
    ...newAlerts.map((a) => ({ id: a.id, cluster, node: batch.node.name, kind: 'alert', at: validDate(a.at, now) })),
  ];
  const threats = newAlerts.map((a): DetectedThreat => ({
    rule: a.rule,
    title: a.title,
    severity: a.severity,
    tactic: a.tactic,
    ...(a.technique ? { technique: a.technique } : {}),
    resource: inCluster(a.resource, cluster),
    evidence: a.evidence,
    remediation: a.remediation,
    source: 'agent',
    at: validDate(a.at, now),
  }));
  const recorded = await intake.submit({
    threats,
    ...(rows.length ? {
      commit: async (tx: Kysely<Database>) => {
        for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
          await tx.insertInto('agent_events').values(rows.slice(i, i + ROWS_PER_INSERT)).onConflict((oc) => oc.column('id').doNothing()).execute();
        }
      },
    } : {}),
  });
  return {
    events: freshEvents.length,
    duplicates: batch.events.length - freshEvents.length,
    alerts: { created: recorded.created.length, updated: recorded.updated.length },
  };
}

function validDate(value: string, fallback: Date): Date {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? fallback : d;
}

/** The alert's resource within the cluster that sent it. */
function inCluster(resource: ResourceRef, cluster: string): ResourceRef {
  return { ...resource, cluster, id: resource.kind === 'node' ? `${cluster}/${resource.id}` : resource.id };
}
