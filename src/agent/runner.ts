/**
 * The agent's loop: collect every interval, ship what was found (with a heartbeat carrying the
 * node inventory every `heartbeatMs`), refresh the threat list, and stop cleanly on a signal.
 */
import { systemClock } from '../core/index.js';
import { NodeAgent, type Collection, type NodeAgentOptions } from './agent.js';
import { foldAlerts, type AgentAlert } from './engine.js';
import { nodeInventory } from './inventory.js';
import { Shipper, splitBatch } from './shipper.js';
import { ownBinary, pageOut } from './sensor/pageout.js';
import { Spool } from './spool.js';
import { startStatusServer, type AgentStatus } from './status.js';
import { loadThreatList } from './threat-intel.js';
import type { AgentHealth, NodeInventory } from './wire.js';

export interface AgentRunOptions extends Omit<NodeAgentOptions, 'node' | 'threatIntel'> {
  node?: string;
  intervalMs: number;
  /** Where batches go; without it the agent only logs alerts. */
  server?: string;
  token?: string;
  spoolDir?: string;
  spoolMaxBytes?: number;
  /** Bound of the in-memory queue for batches the spool's disk refused (ENOSPC, EIO). */
  spoolMemoryMaxBytes?: number;
  /** HOST:PORT for /readyz and /metrics (port 0 picks one; see onStatus). */
  statusAddr?: string;
  onStatus?: (port: number) => void;
  heartbeatMs?: number;
  threatIntel?: string;
  threatIntelRefreshMs?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string, details?: Record<string, unknown>) => void;
  signal?: AbortSignal;
  /** Called with each collection before it is shipped (tests, metrics). */
  onCollection?: (collection: Collection) => void;
  /** Leave the agent's start-up code resident after the first collection (see pageout.ts ownBinary). */
  keepOwnPages?: boolean;
}

export interface OnceResult {
  node: string;
  /** Which sensor ran and what it lost. */
  sensor: Pick<AgentHealth, 'sensor' | 'sensorReason' | 'lostEvents'>;
  alerts: (Pick<AgentAlert, 'rule' | 'title' | 'severity' | 'tactic' | 'resource' | 'evidence'> & { technique?: string; count: number })[];
  events: number;
}

async function threatEntries(source: string | undefined, log: AgentRunOptions['log']): Promise<string[]> {
  if (!source) return [];
  const { entries, skipped } = await loadThreatList(source);
  if (skipped) log?.('warn', 'threat list lines skipped (not an IP or CIDR)', { source, skipped });
  return entries;
}

export async function createAgent(options: Omit<AgentRunOptions, 'intervalMs'>): Promise<{ agent: NodeAgent; inventory: NodeInventory }> {
  const inventory = nodeInventory({ ...(options.node ? { name: options.node } : {}) });
  const threatIntel = await threatEntries(options.threatIntel, options.log);
  const agent = new NodeAgent({ ...options, node: inventory.name, threatIntel });
  await agent.start();
  return { agent, inventory: { ...inventory, sensor: agent.sensor.kind } };
}

/** `palisade agent --once`: collects for `durationMs` (a snapshot plus a few diffs), no shipping. */
export async function collectOnce(options: Omit<AgentRunOptions, 'server' | 'token'> & { durationMs: number }): Promise<OnceResult> {
  const { agent, inventory } = await createAgent(options);
  const all: Collection = { events: [], alerts: [] };
  const until = Date.now() + options.durationMs;
  for (;;) {
    const c = await agent.collect();
    all.events.push(...c.events);
    all.alerts.push(...c.alerts);
    if (Date.now() + options.intervalMs > until || options.signal?.aborted) break;
    await sleep(options.intervalMs, options.signal);
  }
  // The sensor's last records (bpftrace's buffers, the grace window) count too.
  const last = await agent.stop();
  all.events.push(...last.events);
  all.alerts.push(...last.alerts);
  return {
    node: inventory.name,
    sensor: agent.health(),
    alerts: foldAlerts(all.alerts).map((a) => ({
      rule: a.rule, title: a.title, severity: a.severity, tactic: a.tactic, ...(a.technique ? { technique: a.technique } : {}),
      resource: a.resource, evidence: a.evidence, count: a.count,
    })),
    events: all.events.length,
  };
}

/** Runs until the signal aborts. Returns counters, for tests and the final log line. */
export async function runAgent(options: AgentRunOptions): Promise<{ collections: number; events: number; alerts: number; sent: number; spooled: number; dropped: number }> {
  const log = options.log ?? (() => {});
  const { agent, inventory } = await createAgent(options);
  const spool = options.server ? new Spool(options.spoolDir ?? '/var/lib/palisade/agent-spool', options.spoolMaxBytes, ({ events, batches, totalEvents, reason, error }) => {
    log('warn', reason === 'spool_full' ? 'spool full: oldest batches dropped' : 'spool disk refused batches and the memory queue is full: batches dropped',
      { droppedEvents: events, droppedBatches: batches, totalDroppedEvents: totalEvents, reason, ...(error ? { error } : {}) });
  }, options.spoolMemoryMaxBytes) : undefined;
  const shipper = spool && options.server ? new Shipper({ server: options.server, token: options.token ?? '', spool, warn: (m, d) => log('warn', m, d) }) : undefined;
  const heartbeatMs = options.heartbeatMs ?? 60_000;
  let lastHeartbeat = 0;
  let lastThreatRefresh = Date.now();
  const counters = { collections: 0, events: 0, alerts: 0 };
  let lastCollectionMs = 0;
  const health = (): AgentHealth => {
    const stats = spool?.stats();
    return {
      ...agent.health(),
      droppedEvents: stats?.droppedEvents ?? 0,
      droppedByReason: stats?.droppedByReason ?? { spool_full: 0, write_failed: 0 },
      spoolWriteFailures: stats?.writeFailures ?? 0,
      spooledBatches: stats?.batches ?? 0,
      memoryBatches: stats?.memoryBatches ?? 0,
    };
  };
  const status = options.statusAddr
    ? await startStatusServer(options.statusAddr, (): AgentStatus => ({ ...health(), ...counters, lastCollectionMs, intervalMs: options.intervalMs }))
    : undefined;
  if (status) options.onStatus?.(status.port);
  log('info', 'palisade agent started', { node: inventory.name, server: options.server ?? null, intervalMs: options.intervalMs, rules: agent.engine.rules.length, ...agent.health() });
  while (!options.signal?.aborted) {
    const started = Date.now();
    try {
      const collection = await agent.collect();
      const { events, alerts } = collection;
      options.onCollection?.(collection);
      counters.collections++;
      if (counters.collections === 1 && !options.keepOwnPages) {
        const paged = pageOut(process.pid, ownBinary());
        log('info', 'start-up code paged out', 'error' in paged ? { kept: paged.error } : { bytesAdvised: paged.bytes });
      }
      counters.events += events.length;
      counters.alerts += alerts.length;
      lastCollectionMs = Date.now();
      for (const alert of alerts) log('warn', `alert: ${alert.title}`, { rule: alert.rule, severity: alert.severity, resource: alert.resource });
      const heartbeat = started - lastHeartbeat >= heartbeatMs;
      if (shipper && (events.length || alerts.length || heartbeat)) {
        if (heartbeat) lastHeartbeat = started;
        await shipper.ship(splitBatch({
          sentAt: (options.clock ?? systemClock).now().toISOString(),
          node: inventory,
          ...(heartbeat ? { heartbeat: { at: new Date(started).toISOString(), ...health() } } : {}),
          events,
          alerts,
        }));
      } else if (shipper && spool?.size) await shipper.drain();
      if (options.threatIntel && /^https?:/.test(options.threatIntel) && Date.now() - lastThreatRefresh > (options.threatIntelRefreshMs ?? 3_600_000)) {
        lastThreatRefresh = Date.now();
        try {
          agent.setThreatIntel(await threatEntries(options.threatIntel, log));
        } catch (error) {
          log('warn', 'threat list refresh failed; keeping the last list', { error: (error as Error).message });
        }
      }
    } catch (error) {
      log('error', 'collection failed', { error: (error as Error).message });
    }
    await sleep(Math.max(0, options.intervalMs - (Date.now() - started)), options.signal);
  }
  await agent.stop();
  // What the disk still refuses at stop is lost with the process: counted and logged, not hidden.
  const lostAtStop = spool?.close() ?? 0;
  await status?.close();
  const stats = spool?.stats();
  const final = { ...counters, sent: shipper?.sent ?? 0, spooled: stats?.batches ?? 0, dropped: stats?.droppedEvents ?? 0 };
  log('info', 'palisade agent stopped', { ...final, ...(lostAtStop ? { droppedAtStop: lostAtStop } : {}), ...(stats ? { droppedByReason: stats.droppedByReason } : {}) });
  return final;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
