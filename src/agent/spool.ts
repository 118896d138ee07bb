/**
 * The disk spool: batches the server did not take wait here, one file per batch, named by a
 * sequence number so they are resent in order. Bounded in bytes: when full, the oldest batches
 * are dropped first and the events lost are counted (and reported as a warning by the runner).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentBatch } from './wire.js';

const NAME = /^(\d{12})\.json$/;

export interface SpoolStats {
  batches: number;
  bytes: number;
  /** Events dropped since start because the spool was full. */
  droppedEvents: number;
  droppedBatches: number;
}

export class Spool {
  private next: number;
  private bytes = 0;
  private readonly files: { name: string; size: number; events: number }[] = [];
  droppedEvents = 0;
  droppedBatches = 0;

  constructor(readonly dir: string, readonly maxBytes = 64 * 1024 * 1024, private readonly onDrop?: (dropped: { events: number; batches: number; totalEvents: number }) => void) {
    mkdirSync(dir, { recursive: true });
    let max = 0;
    for (const name of readdirSync(dir).sort()) {
      const match = NAME.exec(name);
      if (!match) continue;
      const size = statSync(path.join(dir, name)).size;
      this.files.push({ name, size, events: -1 });
      this.bytes += size;
      max = Math.max(max, Number(match[1]));
    }
    this.next = max + 1;
  }

  get size(): number {
    return this.files.length;
  }

  stats(): SpoolStats {
    return { batches: this.files.length, bytes: this.bytes, droppedEvents: this.droppedEvents, droppedBatches: this.droppedBatches };
  }

  /** Appends a batch (written to a temp name and renamed, so a crash never leaves half a file). */
  append(batch: AgentBatch): void {
    const name = `${String(this.next++).padStart(12, '0')}.json`;
    const body = JSON.stringify(batch);
    const size = Buffer.byteLength(body);
    const tmp = path.join(this.dir, `.${name}.tmp`);
    writeFileSync(tmp, body);
    renameSync(tmp, path.join(this.dir, name));
    this.files.push({ name, size, events: batch.events.length });
    this.bytes += size;
    let events = 0;
    let batches = 0;
    // Keep the newest batch even if it alone exceeds the bound: dropping what just arrived loses more.
    while (this.bytes > this.maxBytes && this.files.length > 1) {
      const oldest = this.files.shift()!;
      this.bytes -= oldest.size;
      const count = oldest.events >= 0 ? oldest.events : this.countEvents(oldest.name);
      try {
        unlinkSync(path.join(this.dir, oldest.name));
      } catch { /* already gone */ }
      events += count;
      batches++;
    }
    if (batches) {
      this.droppedEvents += events;
      this.droppedBatches += batches;
      this.onDrop?.({ events, batches, totalEvents: this.droppedEvents });
    }
  }

  private countEvents(name: string): number {
    try {
      return (JSON.parse(readFileSync(path.join(this.dir, name), 'utf8')) as AgentBatch).events.length;
    } catch {
      return 0;
    }
  }

  /** The oldest batch, or undefined when empty; a corrupt file is skipped and removed. */
  peek(): AgentBatch | undefined {
    while (this.files.length) {
      const first = this.files[0]!;
      try {
        return JSON.parse(readFileSync(path.join(this.dir, first.name), 'utf8')) as AgentBatch;
      } catch {
        this.shift();
      }
    }
    return undefined;
  }

  /** Removes the oldest batch (after the server took it). */
  shift(): void {
    const first = this.files.shift();
    if (!first) return;
    this.bytes -= first.size;
    try {
      unlinkSync(path.join(this.dir, first.name));
    } catch { /* already gone */ }
  }
}
