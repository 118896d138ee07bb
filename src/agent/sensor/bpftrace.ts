/**
 * Runs bpftrace with the shipped host script (host.bt) and queues its records. The kernel side
 * only filters and copies; everything else happens in TypeScript (tree.ts).
 *
 * Records from different CPUs reach bpftrace's reader out of order (an execve's arguments on
 * one CPU, its completion on another after the scheduler moved the task), so `take()` hands
 * out records sorted by their kernel timestamp and keeps the newest `graceMs` back until
 * stragglers from other CPUs had time to arrive.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pageOut } from './pageout.js';
import { openFifo, type Fifo } from './fifo.js';
import { parseOtherLine, parsePrintfLine, type SensorRecord } from './records.js';

const HERE = import.meta.dirname;
/** The built CLI runs from dist/, where the build copies host.bt (scripts/copy-assets.mjs); else the sources. */
export const HOST_SCRIPT = existsSync(path.join(HERE, 'host.bt')) ? path.join(HERE, 'host.bt') : path.resolve(HERE, '../../../src/agent/sensor/host.bt');

/** How often bpftrace's output is read: every 100 ms, or after 5 ms while a read takes more than 500 records (~40 KiB of the pipe's 64). */
const DRAIN_IDLE_MS = 100;
const DRAIN_BUSY_MS = 5;
const DRAIN_BURST_RECORDS = 500;

/** Bytes per string bpftrace copies (paths, arguments); 200 is bpftrace 0.17's maximum. */
const STRLEN = '200';

export interface SensorScriptOptions {
  /** Where tracefs is mounted (the events/ directory tells which tracepoints exist). */
  tracefs: string;
  script?: string;
  /** The kernel's BTF `struct inode` text, to pick the ctime field name; read through bpftrace when omitted. */
  inodeFields?: string;
  bpftrace?: string;
}

/**
 * The script for this kernel: probes marked `// optional` are dropped where their tracepoint
 * does not exist (module syscalls on a kernel without module support), and the inode's change
 * time uses the field name this kernel's BTF has (i_ctime_sec since 6.11, __i_ctime before).
 */
export function sensorScript(options: SensorScriptOptions): string {
  const text = readFileSync(options.script ?? HOST_SCRIPT, 'utf8');
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.startsWith('// optional')) {
      out.push(line);
      continue;
    }
    const probe = lines[i + 1] ?? '';
    const tracepoints = [...probe.matchAll(/tracepoint:([a-z0-9_]+):([a-z0-9_]+)/g)];
    const present = tracepoints.every((m) => existsSync(path.join(options.tracefs, 'events', m[1]!, m[2]!)));
    if (!present) i++; // drop the probe line too
  }
  let script = out.join('\n');
  const inode = options.inodeFields ?? inodeStruct(options.bpftrace ?? 'bpftrace');
  if (inode && !/\bi_ctime_sec\b/.test(inode)) {
    const field = /\b__i_ctime\b/.test(inode) ? '->__i_ctime' : '->i_ctime';
    script = script.replaceAll('->i_ctime_sec', `${field}.tv_sec`).replaceAll('->i_ctime_nsec', `${field}.tv_nsec`);
  }
  if (inode && !/\b__i_nlink\b/.test(inode)) script = script.replaceAll('->__i_nlink', '->i_nlink');
  return script;
}

function inodeStruct(bpftrace: string): string | undefined {
  const result = spawnSync(bpftrace, ['-lv', 'struct inode'], { encoding: 'utf8', timeout: 30_000 });
  return result.status === 0 ? result.stdout : undefined;
}

/** tracefs at /sys/kernel/tracing, mounted when missing (bpftrace needs it for tracepoints). */
export function ensureTracefs(tracefs = '/sys/kernel/tracing'): string | undefined {
  if (existsSync(path.join(tracefs, 'available_events'))) return undefined;
  const mount = spawnSync('mount', ['-t', 'tracefs', 'nodev', tracefs], { encoding: 'utf8', timeout: 10_000 });
  if (mount.status === 0 && existsSync(path.join(tracefs, 'available_events'))) return undefined;
  return `tracefs is not mounted at ${tracefs} and mounting it failed: ${(mount.stderr || mount.error?.message || '').trim() || `exit ${mount.status}`}`;
}

export interface BpftraceSensorOptions {
  bpftrace?: string;
  tracefs?: string;
  /** Records held between takes; beyond it the oldest are dropped and counted as lost. */
  maxQueued?: number;
  graceMs?: number;
  /** bpftrace's stderr lines other than its harmless RLIMIT_MEMLOCK notice. */
  onStderr?: (line: string) => void;
  /** Leave LLVM's and clang's pages resident in bpftrace after it attached (pageout.ts). */
  keepCompilerPages?: boolean;
}

export class BpftraceSensor {
  /** Events the kernel dropped (bpftrace's lost_events) plus records this queue dropped. */
  lostEvents = 0;
  records = 0;
  private queue: SensorRecord[] = [];
  /** Records before this index in `queue` were dropped (overflow); cut off in bulk, not one shift() per record. */
  private head = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  private readonly maxQueued: number;
  private readonly graceNs: number;
  private stderr: string[] = [];
  private fifo: Fifo | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private ready: () => void = () => {};
  /** What reclaiming the compiler's pages after attach gave: bytes advised, or why it could not. */
  compilerPages: { bytes: number } | { error: string } | undefined;

  constructor(private readonly options: BpftraceSensorOptions = {}) {
    this.maxQueued = options.maxQueued ?? 200_000;
    this.graceNs = (options.graceMs ?? 250) * 1e6;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts bpftrace and resolves once every probe is attached (the script's BEGIN record). */
  async start(timeoutMs = 120_000): Promise<void> {
    const tracefs = this.options.tracefs ?? '/sys/kernel/tracing';
    const problem = ensureTracefs(tracefs);
    if (problem) throw new Error(problem);
    const bpftrace = this.options.bpftrace ?? 'bpftrace';
    const script = sensorScript({ tracefs, bpftrace });
    const fifo = openFifo();
    let child: ChildProcess;
    try {
      child = spawn(bpftrace, ['-f', 'json', '-B', 'line', '-e', script], {
        stdio: ['ignore', fifo.writeFd, 'pipe'],
        // 1,024 pages (4 MiB) of ring buffer per CPU instead of 64: bursts of execs (each up to 22 records)
        // wait there while bpftrace's reader is off the CPU on a busy node, instead of being lost.
        // glibc returns freed heap sooner (compiling leaves LLVM's heap grown): about 9 MiB less
        // resident here. The ring buffer size made no difference to bpftrace's RSS (64 or 1,024 pages).
        env: { GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=65536:glibc.malloc.mmap_threshold=65536:glibc.malloc.arena_max=1', ...process.env, BPFTRACE_STRLEN: STRLEN, BPFTRACE_PERF_RB_PAGES: '1024' },
      });
    } finally {
      fifo.closeWriter();
    }
    this.child = child;
    this.fifo = fifo;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const attached = new Promise<void>((resolve) => { this.ready = resolve; });
    this.scheduleDrain(0);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (/RLIMIT_MEMLOCK/.test(line) || !line.trim()) return;
      if (this.stderr.length < 20) this.stderr.push(line);
      this.options.onStderr?.(line);
    });
    let timer: NodeJS.Timeout | undefined;
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (error) => reject(new Error(`bpftrace could not start: ${error.message}`)));
      void this.exited!.then((code) => reject(new Error(`bpftrace exited (${code}) before attaching: ${this.stderr.join(' | ').slice(0, 1000)}`)));
      timer = setTimeout(() => reject(new Error(`bpftrace did not attach its probes within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([attached, failed]);
      if (!this.options.keepCompilerPages && child.pid) this.compilerPages = pageOut(child.pid);
    } catch (error) {
      await this.stop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** One line of bpftrace's output: a record (read in place), lost events, or anything else (ignored). */
  private onLine = (line: string): void => {
    let record = parsePrintfLine(line);
    if (!record) {
      const other = parseOtherLine(line);
      if (other && 'lost' in other) this.lostEvents += other.lost;
      record = other && 'record' in other ? other.record : undefined;
      if (!record) return;
    }
    if (record.k === 'R') return this.ready();
    this.records++;
    if (this.queue.length - this.head >= this.maxQueued) {
      this.head++;
      this.lostEvents++;
      if (this.head >= this.maxQueued) this.dropHead();
    }
    this.queue.push(record);
  };

  /**
   * Reads the FIFO now and again: soon after a read that took much (a burst: the pipe holds
   * 64 KiB, and a full pipe stalls bpftrace's reading of the kernel's buffers), else every
   * DRAIN_IDLE_MS. Records wait for graceMs before take() hands them out anyway.
   */
  private scheduleDrain(delayMs: number): void {
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      const before = this.records;
      let open: boolean;
      try {
        open = this.drain();
      } catch (error) {
        // A read that fails (not one that merely finds the pipe empty) ends the reading, said where bpftrace's own errors go.
        this.options.onStderr?.(`reading bpftrace's output failed: ${(error as Error).message}`);
        return;
      }
      if (open) this.scheduleDrain(this.records - before > DRAIN_BURST_RECORDS ? DRAIN_BUSY_MS : DRAIN_IDLE_MS);
    }, delayMs);
    this.drainTimer.unref();
  }

  /** Reads what bpftrace wrote so far; false once it closed its output. */
  private drain(): boolean {
    return this.fifo?.drain(this.onLine) ?? false;
  }

  /** Records old enough that no straggler can precede them, in kernel time order. */
  take(all = false): SensorRecord[] {
    this.drain();
    this.dropHead();
    if (!this.queue.length) return [];
    const queue = this.queue.sort((a, b) => a.t - b.t);
    const horizon = all ? Infinity : Number(process.hrtime.bigint()) - this.graceNs;
    let cut = queue.length;
    while (cut > 0 && queue[cut - 1]!.t > horizon) cut--;
    this.queue = queue.slice(cut);
    return queue.slice(0, cut);
  }

  private dropHead(): void {
    if (!this.head) return;
    this.queue = this.queue.slice(this.head);
    this.head = 0;
  }

  /** Stops bpftrace (SIGINT lets it detach cleanly; SIGKILL after 5 s); pending records stay for take(true). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.exited) return;
    if (this.running) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    // What bpftrace wrote before it exited.
    clearTimeout(this.drainTimer);
    this.drain();
    this.fifo?.close();
    this.fifo = undefined;
  }
}
