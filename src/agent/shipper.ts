/**
 * Sends batches to `POST /ingest/agent`. Order is kept: while anything waits in the spool, new
 * batches join the end of the spool and the spool drains oldest first.
 */
import { randomUUID } from 'node:crypto';
import { Spool } from './spool.js';
import { AGENT_BATCH_MAX_ALERTS, AGENT_BATCH_MAX_BYTES, AGENT_BATCH_MAX_EVENTS, type AgentBatch } from './wire.js';

export type SendOutcome = 'sent' | 'retry' | 'rejected';

export interface ShipperOptions {
  server: string;
  token: string;
  spool: Spool;
  /** Warnings (dropped batches, rejected batches, plan off). */
  warn?: (message: string, details?: Record<string, unknown>) => void;
  timeoutMs?: number;
}

/** Room left for the batch envelope (node inventory, ids, times) under the byte limit. */
const ENVELOPE_BYTES = 64 * 1024;

/**
 * Splits a collection into batches under the server's limits: at most AGENT_BATCH_MAX_EVENTS
 * events, AGENT_BATCH_MAX_ALERTS alerts and AGENT_BATCH_MAX_BYTES of JSON each (a batch over the
 * byte limit would be refused with 413 and lost). Order is kept.
 */
export function splitBatch(batch: Omit<AgentBatch, 'batchId'>, maxBytes = AGENT_BATCH_MAX_BYTES): AgentBatch[] {
  const out: AgentBatch[] = [];
  const budget = maxBytes - ENVELOPE_BYTES;
  let current: AgentBatch = { ...batch, batchId: randomUUID(), events: [], alerts: [] };
  let bytes = 0;
  const flush = () => {
    out.push(current);
    // The heartbeat rides on the first batch only.
    const { heartbeat: _, ...rest } = batch;
    current = { ...rest, batchId: randomUUID(), events: [], alerts: [] };
    bytes = 0;
  };
  for (const alert of batch.alerts) {
    const size = Buffer.byteLength(JSON.stringify(alert)) + 1;
    if (current.alerts.length >= AGENT_BATCH_MAX_ALERTS || (bytes + size > budget && (current.alerts.length || current.events.length))) flush();
    current.alerts.push(alert);
    bytes += size;
  }
  for (const event of batch.events) {
    const size = Buffer.byteLength(JSON.stringify(event)) + 1;
    if (current.events.length >= AGENT_BATCH_MAX_EVENTS || (bytes + size > budget && (current.alerts.length || current.events.length))) flush();
    current.events.push(event);
    bytes += size;
  }
  out.push(current);
  return out;
}

export class Shipper {
  private readonly url: string;
  sent = 0;
  constructor(private readonly options: ShipperOptions) {
    this.url = new URL('/ingest/agent', options.server).toString();
  }

  async post(batch: AgentBatch): Promise<SendOutcome> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.token}` },
        body: JSON.stringify(batch),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
      });
    } catch {
      return 'retry';
    }
    const text = await response.text().catch(() => '');
    if (response.ok) return 'sent';
    if (response.status >= 500 || response.status === 408 || response.status === 429) return 'retry';
    // 401 (token revoked), 403 (plan off), 400/413 (a batch the server will never take): resending does not help.
    this.options.warn?.('the server rejected an agent batch; it is dropped', { status: response.status, body: text.slice(0, 500), events: batch.events.length });
    return 'rejected';
  }

  /** Ships batches in order; what cannot be sent now waits in the spool. */
  async ship(batches: AgentBatch[]): Promise<void> {
    const spool = this.options.spool;
    if (spool.size) for (const b of batches) spool.append(b);
    else {
      for (let i = 0; i < batches.length; i++) {
        const outcome = await this.post(batches[i]!);
        if (outcome === 'retry') {
          for (const b of batches.slice(i)) spool.append(b);
          return;
        }
        if (outcome === 'sent') this.sent++;
      }
      return;
    }
    await this.drain();
  }

  /** Resends spooled batches oldest first; stops at the first that cannot be sent yet. */
  async drain(): Promise<void> {
    const spool = this.options.spool;
    for (let batch = spool.peek(); batch; batch = spool.peek()) {
      const outcome = await this.post(batch);
      if (outcome === 'retry') return;
      if (outcome === 'sent') this.sent++;
      spool.shift();
    }
  }
}
