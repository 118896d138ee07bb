/**
 * The disk spool: batches the server did not take wait here, one file per batch, named by a
 * sequence number so they are resent in order. Bounded in bytes: when full, the oldest batches
 * are dropped first and the events lost are counted (and reported as a warning by the runner).
 *
 * A batch the disk refuses (ENOSPC, EIO, EDQUOT, EROFS: a full or failing volume) is not lost
 * on the spot: it waits in a bounded in-memory queue, in order behind the files, and every later
 * append or drain retries writing it. Only what overflows that queue — or is still in it when
 * the agent stops — is dropped, and counted by reason, never silently.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentBatch } from './wire.js';

const NAME = /^(\d{12})\.json$/;

/** Why events were dropped: the disk bound was reached, or the disk refused the write and memory was full too. */
export type DropReason = 'spool_full' | 'write_failed';

export interface SpoolStats {
  batches: number;
  bytes: number;
  /** Batches (and their bytes) waiting in memory because the disk refused them. */
  memoryBatches: number;
  memoryBytes: number;
  /** Events dropped since start, all reasons. */
  droppedEvents: number;
  droppedBatches: number;
  droppedByReason: Record<DropReason, number>;
  /** Writes the disk refused (each retried later); the last error code. */
  writeFailures: number;
  lastWriteError?: string;
}

export interface SpoolDrop {
  events: number;
  batches: number;
  totalEvents: number;
  reason: DropReason;
  error?: string;
}

interface Entry {
  name: string;
  size: number;
  events: number;
  /** The batch's JSON while it is not on disk yet. */
  body?: string;
}

export class Spool {
  private next: number;
  private bytes = 0;
  private memoryBytes = 0;
  private readonly entries: Entry[] = [];
  droppedEvents = 0;
  droppedBatches = 0;
  private readonly droppedByReason: Record<DropReason, number> = { spool_full: 0, write_failed: 0 };
  private writeFailures = 0;
  private lastWriteError: string | undefined;

  constructor(
    readonly dir: string,
    readonly maxBytes = 64 * 1024 * 1024,
    private readonly onDrop?: (dropped: SpoolDrop) => void,
    /** Bound of the in-memory queue for batches the disk refused. */
    readonly maxMemoryBytes = 16 * 1024 * 1024,
  ) {
    mkdirSync(dir, { recursive: true });
    let max = 0;
    for (const name of readdirSync(dir).sort()) {
      const match = NAME.exec(name);
      if (!match) continue;
      const size = statSync(path.join(dir, name)).size;
      this.entries.push({ name, size, events: -1 });
      this.bytes += size;
      max = Math.max(max, Number(match[1]));
    }
    this.next = max + 1;
  }

  get size(): number {
    return this.entries.length;
  }

  stats(): SpoolStats {
    return {
      batches: this.entries.length, bytes: this.bytes,
      memoryBatches: this.entries.filter((e) => e.body !== undefined).length, memoryBytes: this.memoryBytes,
      droppedEvents: this.droppedEvents, droppedBatches: this.droppedBatches, droppedByReason: { ...this.droppedByReason },
      writeFailures: this.writeFailures, ...(this.lastWriteError ? { lastWriteError: this.lastWriteError } : {}),
    };
  }

  /** Appends a batch (written to a temp name and renamed, so a crash never leaves half a file). */
  append(batch: AgentBatch): void {
    const name = `${String(this.next++).padStart(12, '0')}.json`;
    const body = JSON.stringify(batch);
    const size = Buffer.byteLength(body);
    const entry: Entry = { name, size, events: batch.events.length, body };
    this.entries.push(entry);
    this.bytes += size;
    this.memoryBytes += size;
    this.flushMemory();
    this.enforceDiskBound();
    this.enforceMemoryBound();
  }

  /** Retries writing the batches waiting in memory, oldest first; stops at the first refusal. */
  flushMemory(): void {
    // Nothing waits in memory (the usual case): skip the walk over every spooled file, which a drain repeats per batch.
    for (const entry of this.entries) {
      if (this.memoryBytes === 0) return;
      if (entry.body === undefined) continue;
      const error = this.write(entry.name, entry.body);
      if (error) return;
      this.memoryBytes -= entry.size;
      delete entry.body;
    }
  }

  private write(name: string, body: string): string | undefined {
    const tmp = path.join(this.dir, `.${name}.tmp`);
    try {
      writeFileSync(tmp, body);
      renameSync(tmp, path.join(this.dir, name));
      return undefined;
    } catch (error) {
      try {
        unlinkSync(tmp); // a partial temp file holds the space the next retry needs
      } catch { /* never written */ }
      this.writeFailures++;
      this.lastWriteError = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      return this.lastWriteError;
    }
  }

  private enforceDiskBound(): void {
    let events = 0;
    let batches = 0;
    // Keep the newest batch even if it alone exceeds the bound: dropping what just arrived loses more.
    while (this.bytes > this.maxBytes && this.entries.length > 1) {
      const oldest = this.entries.shift()!;
      this.forget(oldest);
      events += this.eventsOf(oldest);
      batches++;
    }
    this.dropped(events, batches, 'spool_full');
  }

  private enforceMemoryBound(): void {
    let events = 0;
    let batches = 0;
    while (this.memoryBytes > this.maxMemoryBytes) {
      const index = this.entries.findIndex((e) => e.body !== undefined);
      if (index < 0) break;
      const [oldest] = this.entries.splice(index, 1);
      this.forget(oldest!);
      events += oldest!.events;
      batches++;
    }
    this.dropped(events, batches, 'write_failed');
  }

  private dropped(events: number, batches: number, reason: DropReason): void {
    if (!batches) return;
    this.droppedEvents += events;
    this.droppedBatches += batches;
    this.droppedByReason[reason] += events;
    this.onDrop?.({ events, batches, totalEvents: this.droppedEvents, reason, ...(reason === 'write_failed' && this.lastWriteError ? { error: this.lastWriteError } : {}) });
  }

  private forget(entry: Entry): void {
    this.bytes -= entry.size;
    if (entry.body !== undefined) {
      this.memoryBytes -= entry.size;
      return;
    }
    try {
      unlinkSync(path.join(this.dir, entry.name));
    } catch { /* already gone */ }
  }

  private eventsOf(entry: Entry): number {
    if (entry.events >= 0) return entry.events;
    try {
      return (JSON.parse(readFileSync(path.join(this.dir, entry.name), 'utf8')) as AgentBatch).events.length;
    } catch {
      return 0;
    }
  }

  /** The oldest batch, or undefined when empty; a corrupt file is skipped and removed. */
  peek(): AgentBatch | undefined {
    this.flushMemory();
    while (this.entries.length) {
      const first = this.entries[0]!;
      try {
        return JSON.parse(first.body ?? readFileSync(path.join(this.dir, first.name), 'utf8')) as AgentBatch;
      } catch {
        this.shift();
      }
    }
    return undefined;
  }

  /** Removes the oldest batch (after the server took it). */
  shift(): void {
    const first = this.entries.shift();
    if (first) this.forget(first);
  }

  /**
   * At stop: one last try to write what waits in memory; what the disk still refuses is
   * counted as dropped (reason write_failed). Returns the events dropped now.
   */
  close(): number {
    this.flushMemory();
    const before = this.droppedEvents;
    let events = 0;
    let batches = 0;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i]!;
      if (entry.body === undefined) continue;
      this.entries.splice(i, 1);
      this.forget(entry);
      events += entry.events;
      batches++;
    }
    this.dropped(events, batches, 'write_failed');
    return this.droppedEvents - before;
  }
}
