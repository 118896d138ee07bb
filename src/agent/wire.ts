/**
 * The batch an agent sends to `POST /ingest/agent`: who it is (node inventory, which doubles as
 * the heartbeat), the events it collected and the alerts its rules raised. Ids make resends safe.
 */
import type { AgentAlert } from './engine.js';
import type { HostEvent } from './events.js';

export interface NodeInventory {
  name: string;
  kernel?: string;
  os?: string;
  cores?: number;
  /** Container runtime (containerd, cri-o, docker, runc), from the CRI socket or cgroups. */
  runtime?: string;
  agentVersion?: string;
}

export interface AgentBatch {
  /** Unique per batch (the spool's file name carries it too). */
  batchId: string;
  sentAt: string;
  node: NodeInventory;
  /** Present on heartbeat batches: the server updates the node and meters core-hours. */
  heartbeat?: { at: string };
  events: HostEvent[];
  alerts: AgentAlert[];
}

/** Limits the server enforces; the agent splits batches to stay under them. */
export const AGENT_BATCH_MAX_EVENTS = 2000;
export const AGENT_BATCH_MAX_ALERTS = 500;
export const AGENT_BATCH_MAX_BYTES = 8 * 1024 * 1024;
