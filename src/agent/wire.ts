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
  /** Which sensor collects host events: eBPF (bpftrace) or the /proc + auditd fallback. */
  sensor?: SensorKind;
}

export type SensorKind = 'ebpf' | 'proc';

/** What a heartbeat reports about the agent itself: its sensor and everything it lost. */
export interface AgentHealth {
  sensor: SensorKind;
  /** Why the eBPF sensor is not running, when it is not. */
  sensorReason?: string;
  /** Kernel events lost before the agent read them (bpftrace's ring buffer, the agent's queue). */
  lostEvents: number;
  /** Events dropped because they could not be spooled (disk full or failing, spool bound). */
  droppedEvents: number;
  droppedByReason: { spool_full: number; write_failed: number };
  spoolWriteFailures: number;
  spooledBatches: number;
  memoryBatches: number;
}

export interface AgentBatch {
  /** Unique per batch (the spool's file name carries it too). */
  batchId: string;
  sentAt: string;
  node: NodeInventory;
  /** Present on heartbeat batches: the server updates the node and meters core-hours. */
  heartbeat?: { at: string } & Partial<AgentHealth>;
  events: HostEvent[];
  alerts: AgentAlert[];
}

/** Limits the server enforces; the agent splits batches to stay under them. */
export const AGENT_BATCH_MAX_EVENTS = 2000;
export const AGENT_BATCH_MAX_ALERTS = 500;
export const AGENT_BATCH_MAX_BYTES = 8 * 1024 * 1024;
