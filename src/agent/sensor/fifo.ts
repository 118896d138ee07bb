/**
 * A child's output through a FIFO that the agent reads when it chooses, instead of the socket
 * pair Node gives a child's stdout. bpftrace flushes every record (`-B line`, so a lone exec on
 * an idle node is not held back); through a socket each flush woke the agent's event loop
 * (a few thousand times a second at 500 execs/s), and each wake cost a read, a Buffer and a
 * stream's bookkeeping. Here the records wait in the pipe and one read takes all of them.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A pipe's capacity on Linux (16 pages) unless raised: reads must come often enough that a burst rarely fills it. */
const PIPE_BYTES = 64 * 1024;

const MAX_LINE_BYTES = 1024 * 1024;

export interface Fifo {
  /** The write end for the child's stdio (blocking: a full pipe makes the writer wait, never fail). */
  writeFd: number;
  /** Closes the agent's copy of the write end, once the child holds its own. */
  closeWriter(): void;
  /** Reads what is buffered without blocking; false once the writer closed (end of file). */
  drain(onLine: (line: string) => void): boolean;
  close(): void;
}

/** A FIFO made in a private directory and unlinked at once: only the two open ends remain. */
export function openFifo(): Fifo {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-sensor-'));
  let readFd = -1;
  let writeFd = -1;
  try {
    const fifo = path.join(dir, 'out');
    const made = spawnSync('mkfifo', ['-m', '600', fifo], { encoding: 'utf8', timeout: 10_000 });
    if (made.status !== 0) throw new Error(`mkfifo failed: ${(made.stderr || made.error?.message || '').trim() || `exit ${made.status}`}`);
    // The read end first and non-blocking (opening a FIFO waits for its other end otherwise); then the write end, which a reader now lets open.
    readFd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    writeFd = openSync(fifo, constants.O_WRONLY);
  } catch (error) {
    if (readFd >= 0) closeSync(readFd);
    throw error;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return new LineFifo(readFd, writeFd);
}

class LineFifo implements Fifo {
  private buffer = Buffer.allocUnsafe(PIPE_BYTES * 2);
  /** Bytes of an unfinished line kept at the buffer's start. */
  private kept = 0;
  private writerOpen = true;
  private closed = false;

  constructor(private readonly readFd: number, readonly writeFd: number) {}

  closeWriter(): void {
    if (!this.writerOpen) return;
    this.writerOpen = false;
    closeSync(this.writeFd);
  }

  drain(onLine: (line: string) => void): boolean {
    if (this.closed) return false;
    for (;;) {
      if (this.kept === this.buffer.length) this.grow();
      let n: number;
      try {
        n = readSync(this.readFd, this.buffer, this.kept, this.buffer.length - this.kept, null);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return true;
        throw error;
      }
      if (n === 0) return false; // every writer closed: the child exited
      this.split(this.kept + n, onLine);
    }
  }

  /** Hands out the complete lines in buffer[0, end) and keeps the unfinished rest at the start. */
  private split(end: number, onLine: (line: string) => void): void {
    const last = this.buffer.lastIndexOf(10, end - 1);
    if (last < 0) {
      this.kept = end;
      return;
    }
    // One decode for all complete lines (UTF-8 is never cut inside a character at a newline), then split the string.
    const text = this.buffer.toString('utf8', 0, last);
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      if (nl > start) onLine(text.slice(start, nl));
      start = nl + 1;
    }
    if (start < text.length) onLine(text.slice(start));
    this.kept = end - last - 1;
    this.buffer.copy(this.buffer, 0, last + 1, end);
  }

  /** A line longer than the buffer (bpftrace's are a few hundred bytes; this is for the odd one), up to MAX_LINE_BYTES. */
  private grow(): void {
    if (this.buffer.length >= MAX_LINE_BYTES) {
      // Memory stays bounded: the runaway line's start is dropped, and its rest reads as a malformed line.
      this.kept = 0;
      return;
    }
    const bigger = Buffer.allocUnsafe(this.buffer.length * 2);
    this.buffer.copy(bigger, 0, 0, this.kept);
    this.buffer = bigger;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeWriter();
    closeSync(this.readFd);
  }
}
