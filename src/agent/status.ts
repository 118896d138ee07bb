/**
 * The agent's own status endpoint (`--status-addr`): `/readyz` says which sensor runs and
 * whether collections are on time; `/metrics` exposes the same counters in Prometheus text
 * (lost kernel events, dropped batches by reason, spool depth). Loopback or pod IP only; it
 * serves counters, never events or secrets.
 */
import { createServer, type Server } from 'node:http';
import type { AgentHealth } from './wire.js';

export interface AgentStatus extends AgentHealth {
  /** When the last collection finished (ms since the epoch), 0 before the first. */
  lastCollectionMs: number;
  intervalMs: number;
  collections: number;
  events: number;
  alerts: number;
}

function metric(lines: string[], name: string, type: 'counter' | 'gauge', help: string, samples: [Record<string, string>, number][]): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of samples) {
    const text = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',');
    lines.push(`${name}${text ? `{${text}}` : ''} ${value}`);
  }
}

/** Prometheus text exposition (format 0.0.4) of the agent's counters. */
export function renderMetrics(status: AgentStatus): string {
  const lines: string[] = [];
  metric(lines, 'palisade_agent_sensor_info', 'gauge', 'Which sensor collects host events (1 for the running one)', [[{ sensor: status.sensor }, 1]]);
  metric(lines, 'palisade_agent_lost_events_total', 'counter', 'Kernel events lost before the agent read them (bpftrace ring buffer or agent queue overflow)', [[{}, status.lostEvents]]);
  metric(lines, 'palisade_agent_dropped_events_total', 'counter', 'Events dropped because they could not be spooled or shipped, by reason', Object.entries(status.droppedByReason).map(([reason, n]) => [{ reason }, n]));
  metric(lines, 'palisade_agent_spool_write_failures_total', 'counter', 'Spool writes the disk refused (each retried from memory)', [[{}, status.spoolWriteFailures]]);
  metric(lines, 'palisade_agent_spool_batches', 'gauge', 'Batches waiting to be sent, by where they wait', [[{ where: 'disk' }, status.spooledBatches - status.memoryBatches], [{ where: 'memory' }, status.memoryBatches]]);
  metric(lines, 'palisade_agent_collections_total', 'counter', 'Collections run', [[{}, status.collections]]);
  metric(lines, 'palisade_agent_events_total', 'counter', 'Host events collected', [[{}, status.events]]);
  metric(lines, 'palisade_agent_alerts_total', 'counter', 'Alerts raised by the agent rules', [[{}, status.alerts]]);
  return `${lines.join('\n')}\n`;
}

/** Serves /readyz and /metrics on host:port until closed. */
export async function startStatusServer(address: string, status: () => AgentStatus): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const match = /^(.*):(\d+)$/.exec(address);
  if (!match) throw new Error(`status address must be HOST:PORT, got ${JSON.stringify(address)}`);
  const server = createServer((request, response) => {
    const s = status();
    if (request.url === '/metrics') {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(renderMetrics(s));
      return;
    }
    if (request.url === '/readyz' || request.url === '/healthz') {
      // Ready once a collection ran and the last one is not overdue (three intervals, at least 10 s).
      const fresh = s.lastCollectionMs > 0 && Date.now() - s.lastCollectionMs < Math.max(3 * s.intervalMs, 10_000);
      const { lastCollectionMs, ...body } = s;
      response.writeHead(fresh ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: fresh ? 'ready' : 'not ready', ...body, lastCollection: lastCollectionMs ? new Date(lastCollectionMs).toISOString() : null }));
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'not_found', message: 'the agent serves /readyz and /metrics' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(match[2]), match[1]!.replace(/^\[|\]$/g, ''), () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return { server, port, close: () => new Promise((r) => server.close(() => r())) };
}
