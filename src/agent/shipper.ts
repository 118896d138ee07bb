/**
 * Sends batches to `POST /ingest/agent`. Order is kept: while anything waits in the spool, new
 * batches join the end of the spool and the spool drains oldest first.
 */
import { randomUUID } from 'node:crypto';
import { Spool } from './spool.js';
import { AGENT_BATCH_MAX_ALERTS, AGENT_BATCH_MAX_EVENTS, type AgentBatch } from './wire.js';

export type SendOutcome = 'sent' | 'retry' | 'rejected';

export interface ShipperOptions {
  server: string;
  token: string;
  spool: Spool;
  /** Warnings (dropped batches, rejected batches, plan off). */
  warn?: (message: string, details?: Record<string, unknown>) => void;
  timeoutMs?: number;
}

/** Splits a collection into batches under the server's limits. */
export function splitBatch(batch: Omit<AgentBatch, 'batchId'>): AgentBatch[] {
  const out: AgentBatch[] = [];
  let events = batch.events;
  let alerts = batch.alerts;
  do {
    out.push({ ...batch, batchId: randomUUID(), events: events.slice(0, AGENT_BATCH_MAX_EVENTS), alerts: alerts.slice(0, AGENT_BATCH_MAX_ALERTS) });
    events = events.slice(AGENT_BATCH_MAX_EVENTS);
    alerts = alerts.slice(AGENT_BATCH_MAX_ALERTS);
  } while (events.length || alerts.length);
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
