import type { FastifyInstance } from 'fastify';
import { AGENT_BATCH_MAX_ALERTS, AGENT_BATCH_MAX_BYTES, AGENT_BATCH_MAX_EVENTS, type AgentBatch } from '../../../agent/index.js';
import { ingestAgentBatch, isPlanEnabled, recordAgentHeartbeat, threatIntake } from '../../../center/index.js';
import { SEVERITIES } from '../../../core/index.js';
import type { ServerContext } from '../../context.js';
import { batchCluster, CLUSTER_QUERY } from './cluster.js';

const ID = { type: 'string', minLength: 1, maxLength: 200 } as const;
const SENSOR = { type: 'string', enum: ['ebpf', 'proc'] } as const;
const COUNT = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const SEVERITY = { type: 'string', enum: SEVERITIES } as const;

/**
 * `POST /ingest/agent`: batches from node agents (`palisade agent --server`). Authenticated by
 * the cluster's bearer token (an admin token may name the cluster with `?cluster=`). Every batch
 * updates the node's inventory, and a heartbeat meters the node's cores for its hour (usage is
 * metered whether the plan is on or off). When the cluster's plan is off the answer is 403
 * `plan_disabled` and nothing else is stored. Events and alerts carry ids: a batch resent from
 * the agent's spool is recognised and counted once. A 200 comes after alerts and ids are stored.
 */
export async function agentIngestRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  const intake = threatIntake(context.store, { clock: context.clock });
  app.post('/ingest/agent', {
    config: { auth: 'cluster' },
    bodyLimit: AGENT_BATCH_MAX_BYTES,
    schema: {
      tags: ['ingest'],
      summary: 'Receive a batch of host events, alerts and the heartbeat from a node agent',
      querystring: CLUSTER_QUERY,
      body: {
        type: 'object',
        required: ['batchId', 'node', 'events', 'alerts'],
        properties: {
          batchId: ID,
          sentAt: { type: 'string' },
          node: {
            type: 'object',
            required: ['name'],
            properties: {
              name: { type: 'string', minLength: 1, maxLength: 253 },
              kernel: { type: 'string', maxLength: 200 },
              os: { type: 'string', maxLength: 200 },
              cores: { type: 'number', minimum: 0, maximum: 100000 },
              runtime: { type: 'string', maxLength: 100 },
              agentVersion: { type: 'string', maxLength: 100 },
              sensor: SENSOR,
            },
          },
          heartbeat: {
            type: 'object',
            required: ['at'],
            properties: {
              at: { type: 'string' },
              // The agent's health, stored on the node (GET /api/v1/nodes): its sensor and what it lost.
              sensor: SENSOR,
              sensorReason: { type: 'string', maxLength: 1000 },
              lostEvents: COUNT,
              droppedEvents: COUNT,
              droppedByReason: { type: 'object', maxProperties: 20, additionalProperties: COUNT },
            },
          },
          events: {
            type: 'array',
            maxItems: AGENT_BATCH_MAX_EVENTS,
            items: { type: 'object', required: ['id', 'kind', 'at'], properties: { id: ID, kind: { type: 'string', enum: ['exec', 'network', 'file', 'container', 'syscall'] }, at: { type: 'string' } } },
          },
          alerts: {
            type: 'array',
            maxItems: AGENT_BATCH_MAX_ALERTS,
            items: {
              type: 'object',
              required: ['id', 'rule', 'title', 'severity', 'tactic', 'resource', 'evidence', 'at', 'remediation'],
              properties: {
                id: ID,
                rule: { type: 'string', minLength: 1, maxLength: 200 },
                title: { type: 'string', maxLength: 500 },
                severity: SEVERITY,
                tactic: { type: 'string', maxLength: 100 },
                technique: { type: 'string', maxLength: 100 },
                remediation: { type: 'string', maxLength: 2000 },
                resource: { type: 'object', required: ['kind', 'id', 'name'], properties: { kind: { type: 'string', enum: ['node', 'container', 'pod', 'workload'] }, id: ID, name: { type: 'string', maxLength: 500 } } },
                evidence: { type: 'array', maxItems: 20 },
                at: { type: 'string' },
              },
            },
          },
        },
      },
    },
  }, async (request, reply) => {
    const cluster = batchCluster(request, 'agent batches');
    const batch = request.body as AgentBatch;
    const db = context.store.db;
    const now = context.clock.now();

    await recordAgentHeartbeat(db, cluster, batch, now);
    if (!(await isPlanEnabled(db, `cluster:${cluster}`))) {
      return reply.status(403).send({ code: 'plan_disabled', message: `the Kubernetes plan is off for cluster ${cluster}: events are not stored (usage is still metered)` });
    }
    const stored = await ingestAgentBatch(db, intake, cluster, batch, now);
    return {
      cluster,
      node: batch.node.name,
      events: stored.events,
      duplicates: stored.duplicates,
      alerts: stored.alerts,
    };
  });
}
