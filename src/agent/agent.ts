/**
 * One collection pass of the node agent: processes, sockets, the audit log and watched files
 * become host events; the rules turn them into alerts. `NodeAgent.collect()` is called every
 * interval by the runner (runner.ts) and once or a few times by `palisade agent --once`.
 */
import { readFileSync } from 'node:fs';
import { PalisadeError, systemClock, type Clock } from '../core/index.js';
import { attribute, containerFromCgroup, type ContainerMetadataSource } from './containers.js';
import { AuditdAssembler, AuditdLogTail, decodeAuditdEvent, parseAuditdLine, type AuditdEvent, type DecodedAuditdEvent } from './collectors/auditd.js';
import { FileWatch, WATCHED_FILES } from './collectors/files.js';
import { isConnection, isListening, joinSocketTables, parseNamespaceText, readSocketCounters, readSocketTable, SOCKET_TABLES, SocketOwners, TCP_STATE, type SocketEntry } from './collectors/net.js';
import { allowsAllDevices, fullCapabilityMask, hasAllCapabilities, ProcessTable, type TrackedProcess } from './collectors/proc.js';
import { AgentRuleEngine, type AgentAlert } from './engine.js';
import { basename, eventId, summarize, type ContainerEvent, type ContainerRef, type ExecEvent, type FileEvent, type HostEvent, type NetworkEvent, type ProcessInfo } from './events.js';
import { loadAgentRules, type AgentRuleSet } from './rules.js';
import { BpftraceSensor } from './sensor/bpftrace.js';
import { cgroup2Root, CgroupResolver } from './sensor/cgroups.js';
import { KernelEvents } from './sensor/tree.js';
import type { AgentHealth, SensorKind } from './wire.js';

export interface NodeAgentOptions {
  node: string;
  /** The host's /proc (the DaemonSet runs with hostPID). */
  procRoot?: string;
  /** audit.log to follow; undefined or null when auditd is not used. */
  auditLog?: string | null;
  /** Read the audit log from its start instead of its end (tests, one-shot analysis). */
  auditFromStart?: boolean;
  rules?: AgentRuleSet;
  threatIntel?: string[];
  /** Extra API server addresses (the agent adds KUBERNETES_SERVICE_HOST itself). */
  kubernetesApi?: string[];
  metadata?: ContainerMetadataSource;
  clock?: Clock;
  /** Re-read known pids' stat every N collections (exec in place); 10 by default. */
  statEvery?: number;
  /** Watch account, cron, key and history files on the host and in containers. */
  watchFiles?: boolean;
  cgroupRoot?: string;
  /**
   * Which sensor collects processes, connections and files: `ebpf` (bpftrace, fails when it
   * cannot start), `auto` (eBPF, else the fallback) or `proc` (/proc polling + auditd). The
   * CLI defaults to auto; the library to proc, so a NodeAgent without start() works as before.
   */
  sensor?: 'auto' | 'ebpf' | 'proc';
  bpftrace?: string;
  tracefs?: string;
  /** How long bpftrace may take to compile and attach its probes (tens of seconds on a busy node). */
  sensorStartTimeoutMs?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string, details?: Record<string, unknown>) => void;
}

export interface Collection {
  events: HostEvent[];
  alerts: AgentAlert[];
}

const CLOCK_TICKS = 100;
/** Processes whose fds are read per namespace and interval to find new sockets' owners. */
const SOCKET_OWNER_SCAN_BUDGET = 64;
/**
 * Collections a namespace's socket tables may be skipped while its counters (sockstat) do not
 * change. A socket closed and another opened within one interval leave the counters equal; the
 * tables are re-read at least this often, so such a connection is seen a few seconds later.
 */
const SOCKET_TABLE_MAX_AGE = 5; // USER_HZ on every Linux architecture the agent ships for
/** With the eBPF sensor, /proc is read every N collections only: for container facts (capabilities, devices) and watched files. */
const EBPF_PROC_POLL_EVERY = 5;
const O_ACCMODE = 0o3;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;

export class NodeAgent {
  readonly node: string;
  readonly engine: AgentRuleEngine;
  readonly processes: ProcessTable;
  private readonly procRoot: string;
  private readonly clock: Clock;
  private readonly owners: SocketOwners;
  private readonly files: FileWatch | undefined;
  private readonly tail: AuditdLogTail | undefined;
  private readonly auditEvents: AuditdEvent[] = [];
  private readonly assembler: AuditdAssembler;
  private readonly fullCaps: bigint;
  private readonly bootMs: number;
  private readonly containers = new Map<string, string>();
  private sockets = new Map<number, Map<number, NetworkEvent['direction']>>();
  /** Last /proc/PID/net text per namespace: an unchanged namespace is not parsed again. */
  private socketText = new Map<number, { text: string; entries: SocketEntry[]; tables: Record<string, { text: string; counter: string | undefined; at: number }> }>();
  private socketsChanged = true;
  private collections = 0;
  private sensorKind: SensorKind = 'proc';
  private sensorReason: string | undefined = 'not started';
  private bpf: BpftraceSensor | undefined;
  private kernel: KernelEvents | undefined;

  constructor(private readonly options: NodeAgentOptions) {
    this.node = options.node;
    this.procRoot = options.procRoot ?? '/proc';
    this.clock = options.clock ?? systemClock;
    const apiServer = process.env.KUBERNETES_SERVICE_HOST ? [process.env.KUBERNETES_SERVICE_HOST] : [];
    this.engine = new AgentRuleEngine(options.rules ?? loadAgentRules(), {
      lists: { threat_intel: options.threatIntel ?? [], kubernetes_api: [...apiServer, ...(options.kubernetesApi ?? [])] },
    });
    this.processes = new ProcessTable(this.procRoot, options.statEvery ?? 10);
    this.owners = new SocketOwners(this.procRoot);
    this.files = options.watchFiles === false ? undefined : new FileWatch(WATCHED_FILES);
    this.tail = options.auditLog ? new AuditdLogTail(options.auditLog, { fromStart: options.auditFromStart ?? false }) : undefined;
    this.assembler = new AuditdAssembler((e) => this.auditEvents.push(e));
    this.fullCaps = fullCapabilityMask(this.procRoot);
    const btime = /^btime (\d+)$/m.exec(readText(`${this.procRoot}/stat`) ?? '');
    this.bootMs = btime ? Number(btime[1]) * 1000 : 0;
  }

  /** Which sensor runs, and why the eBPF one does not when it does not. */
  get sensor(): { kind: SensorKind; reason?: string } {
    return { kind: this.sensorKind, ...(this.sensorReason ? { reason: this.sensorReason } : {}) };
  }

  health(): Pick<AgentHealth, 'sensor' | 'sensorReason' | 'lostEvents'> {
    return { sensor: this.sensorKind, ...(this.sensorReason ? { sensorReason: this.sensorReason } : {}), lostEvents: this.bpf?.lostEvents ?? 0 };
  }

  /** Starts the eBPF sensor when asked (`auto` falls back to /proc + auditd with the reason kept). */
  async start(): Promise<void> {
    const wanted = this.options.sensor ?? 'proc';
    if (wanted === 'proc') {
      this.sensorReason = 'the /proc + auditd sensor was chosen';
      return;
    }
    const sensor = new BpftraceSensor({
      ...(this.options.bpftrace ? { bpftrace: this.options.bpftrace } : {}),
      ...(this.options.tracefs ? { tracefs: this.options.tracefs } : {}),
      onStderr: (line) => this.options.log?.('warn', 'bpftrace', { line }),
    });
    try {
      await sensor.start(this.options.sensorStartTimeoutMs);
    } catch (error) {
      const reason = (error as Error).message;
      if (wanted === 'ebpf') throw new PalisadeError('agent.sensor_unavailable', `the eBPF sensor did not start: ${reason}`, { field: '--sensor', hint: 'run as root (or with CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE), install bpftrace, or use --sensor auto' });
      this.sensorReason = reason;
      this.options.log?.('warn', 'eBPF sensor unavailable: using /proc + auditd', { reason });
      return;
    }
    if (sensor.compilerPages && 'error' in sensor.compilerPages) {
      this.options.log?.('warn', 'bpftrace keeps its compiler pages resident (about 70 MiB)', { reason: sensor.compilerPages.error });
    }
    // Kernel time (monotonic ns) to wall time, fixed once: the two clocks advance together.
    const offsetMs = Date.now() - Number(process.hrtime.bigint()) / 1e6;
    this.bpf = sensor;
    this.kernel = new KernelEvents({
      node: this.node,
      procRoot: this.procRoot,
      cgroups: new CgroupResolver(cgroup2Root(this.options.cgroupRoot)),
      attribute: (c) => attribute(c, this.options.metadata),
      wallMs: (ns) => ns / 1e6 + offsetMs,
    });
    this.sensorKind = 'ebpf';
    this.sensorReason = undefined;
  }

  /** Stops the sensor and returns what it still held. */
  async stop(): Promise<Collection> {
    if (!this.bpf || !this.kernel) return { events: [], alerts: [] };
    await this.bpf.stop();
    const events = this.kernel.ingest(this.bpf.take(true), true);
    return { events, alerts: events.flatMap((e) => this.engine.evaluate(this.node, e)) };
  }

  /** Replaces the threat-intel list (after a refresh). */
  setThreatIntel(entries: string[]): void {
    this.engine.setList('threat_intel', entries);
  }

  async collect(): Promise<Collection> {
    await this.options.metadata?.refresh();
    const now = this.clock.now().toISOString();
    const events: HostEvent[] = [];
    const kernel = this.kernel;
    // With eBPF, /proc gives the start snapshot and container facts; the kernel gives the rest.
    const snapshot = this.collections === 0;
    const diff = !kernel || snapshot || this.collections % EBPF_PROC_POLL_EVERY === 0 ? this.processes.poll() : { started: [], exited: [] };
    // The snapshot reads sockets too: connections and listeners older than the sensor have no connect record.
    const sockets = kernel && !snapshot ? { entries: [], byInode: new Map<number, SocketEntry>() } : this.readSockets();
    for (const tracked of diff.started) {
      kernel?.seed(tracked.info);
      if (kernel && !snapshot) {
        const container = this.attribute(tracked.info.container);
        if (container && !this.containers.has(container.id)) events.push(this.containerEvent(tracked, container));
        continue;
      }
      const event = this.execEvent(tracked, sockets.byInode);
      if (!event) continue;
      const container = event.container;
      if (container && !this.containers.has(container.id)) events.push(this.containerEvent(tracked, container));
      events.push(event);
    }
    if (kernel && this.bpf) {
      if (snapshot) events.push(...this.networkEvents(sockets.entries, now));
      events.push(...kernel.ingest(this.bpf.take()));
    } else {
      events.push(...this.networkEvents(sockets.entries, now));
      events.push(...this.auditHostEvents());
    }
    events.push(...this.fileEvents(now));
    this.collections++;
    const alerts = events.flatMap((e) => this.engine.evaluate(this.node, e));
    return { events, alerts };
  }

  private attribute(container: ContainerRef | undefined): ContainerRef | undefined {
    return container ? attribute(container, this.options.metadata) : undefined;
  }

  private startedAt(info: ProcessInfo): string {
    return this.bootMs ? new Date(this.bootMs + (info.startTime / CLOCK_TICKS) * 1000).toISOString() : this.clock.now().toISOString();
  }

  private execEvent(tracked: TrackedProcess, byInode: Map<number, SocketEntry>): ExecEvent | undefined {
    const { stdinInode, cgroupText: _, code: _code, ...info } = tracked.info as TrackedProcess['info'] & { code?: string };
    if (!info.exe && !info.argv.length) return undefined; // kernel thread
    const container = this.attribute(info.container);
    const process: ProcessInfo = { ...info, ...(container ? { container } : {}) };
    if (stdinInode !== undefined && process.stdin) {
      const socket = byInode.get(stdinInode);
      process.stdin = { ...process.stdin, ...(socket && isConnection(socket) ? { remote: `${socket.remote.ip}:${socket.remote.port}` } : {}) };
    }
    return {
      id: eventId(this.node, 'exec', info.pid, info.startTime, info.exe),
      kind: 'exec',
      at: this.startedAt(info),
      source: 'proc',
      process,
      ancestors: this.processes.ancestors(info.pid),
      ...(container ? { container, mainProcess: this.processes.isMainProcess(info) } : {}),
    };
  }

  private containerEvent(tracked: TrackedProcess, container: ContainerRef): ContainerEvent {
    // Describe the container by its main process when we know it: it holds the container's capabilities.
    let main = tracked.info;
    for (const p of this.processes.processes.values()) {
      if (p.info.container?.id === container.id && this.processes.isMainProcess(p.info) && p.info.startTime <= main.startTime) main = p.info;
    }
    this.containers.set(container.id, `${main.pid}:${main.startTime}`);
    const allCapabilities = hasAllCapabilities(main.capEff, this.fullCaps);
    const hostDevices = allowsAllDevices(main.cgroupText, this.options.cgroupRoot);
    return {
      id: eventId(this.node, 'container', container.id, main.pid, main.startTime),
      kind: 'container',
      at: this.startedAt(main),
      source: 'proc',
      container,
      process: { ...summarizeInfo(main), container },
      mainProcess: true,
      privileged: allCapabilities || hostDevices,
      allCapabilities,
      hostDevices,
    };
  }

  /** Sockets of every network namespace, read through one process living in each. */
  private readSockets(): { entries: { entry: SocketEntry; netns: number; members: number[] }[]; byInode: Map<number, SocketEntry> } {
    const members = new Map<number, number[]>();
    for (const { info } of this.processes.processes.values()) {
      const netns = info.namespaces?.net;
      if (netns === undefined) continue;
      const list = members.get(netns);
      if (list) list.push(info.pid);
      else members.set(netns, [info.pid]);
    }
    const entries: { entry: SocketEntry; netns: number; members: number[] }[] = [];
    const byInode = new Map<number, SocketEntry>();
    let changed = members.size !== this.socketText.size;
    for (const netns of this.socketText.keys()) if (!members.has(netns)) this.socketText.delete(netns);
    for (const [netns, pids] of members) {
      let read: SocketEntry[] = [];
      const cached = this.socketText.get(netns);
      for (const pid of pids) {
        // A table whose in-use count has not changed, read recently, is taken as unchanged:
        // churn in one table (say TCP) does not cost a walk of the others.
        const counters = readSocketCounters(this.procRoot, pid);
        const tables: Record<string, { text: string; counter: string | undefined; at: number }> = {};
        let gone = false;
        for (const file of SOCKET_TABLES) {
          const previous = cached?.tables[file];
          const counter = counters?.[file];
          if (previous && counter !== undefined && counter === previous.counter && this.collections - previous.at < SOCKET_TABLE_MAX_AGE) {
            tables[file] = previous;
            continue;
          }
          const text = readSocketTable(this.procRoot, pid, file);
          if (text === undefined) {
            gone = true;
            break;
          }
          tables[file] = { text, counter, at: this.collections };
        }
        if (gone) continue; // the process left: the next member stands for the namespace
        const text = joinSocketTables(SOCKET_TABLES.map((file) => tables[file]!.text));
        if (cached && cached.text === text) read = cached.entries;
        else {
          read = parseNamespaceText(text);
          changed = true;
        }
        this.socketText.set(netns, { text, entries: read, tables });
        break;
      }
      for (const entry of read) {
        entries.push({ entry, netns, members: pids });
        byInode.set(entry.inode, entry);
      }
    }
    this.socketsChanged = changed;
    return { entries, byInode };
  }

  private networkEvents(entries: { entry: SocketEntry; netns: number; members: number[] }[], now: string): NetworkEvent[] {
    if (!this.socketsChanged) return []; // every namespace's socket table is as it was
    // Per namespace: inode → direction seen at the last look (numbers, not strings: thousands per interval).
    const next = new Map<number, Map<number, NetworkEvent['direction']>>();
    const listening = new Map<number, Set<number>>();
    for (const { entry, netns } of entries) {
      if (!isListening(entry)) continue;
      const ports = listening.get(netns) ?? new Set<number>();
      ports.add(entry.localPort);
      listening.set(netns, ports);
    }
    const fresh: { entry: SocketEntry; netns: number; members: number[]; direction: NetworkEvent['direction'] }[] = [];
    for (const item of entries) {
      const { entry, netns } = item;
      let direction: NetworkEvent['direction'] | undefined;
      if (isListening(entry)) direction = 'listen';
      else if (isConnection(entry)) {
        direction = entry.protocol === 'tcp' && entry.state !== TCP_STATE.SYN_SENT && listening.get(netns)?.has(entry.localPort) ? 'accept' : 'connect';
      }
      if (!direction) continue;
      let seen = next.get(netns);
      if (!seen) next.set(netns, (seen = new Map()));
      seen.set(entry.inode, direction);
      if (this.sockets.get(netns)?.get(entry.inode) !== direction) fresh.push({ ...item, direction });
    }
    this.sockets = next;
    if (!fresh.length) return [];
    const byNamespace = new Map<number, { inodes: number[]; members: number[] }>();
    for (const f of fresh) {
      const group = byNamespace.get(f.netns) ?? { inodes: [], members: f.members };
      group.inodes.push(f.entry.inode);
      byNamespace.set(f.netns, group);
    }
    // The first collection resolves every socket; later ones spend a bounded fd scan per namespace.
    const budget = this.collections === 0 ? Infinity : SOCKET_OWNER_SCAN_BUDGET;
    for (const group of byNamespace.values()) this.owners.resolve(group.inodes, group.members, budget);
    this.owners.retain(new Set(entries.map((e) => e.entry.inode)));
    return fresh.map(({ entry, netns, direction, members }) => {
      const pid = this.owners.get(entry.inode);
      const info = pid !== undefined ? this.processes.get(pid) : undefined;
      // Owner unknown (it closed the socket, or the scan budget ran out): a container's network
      // namespace is its own (or its pod's), so the namespace still names the container.
      const container = this.attribute(info?.container ?? (info ? undefined : this.namespaceContainer(members)));
      const process = info ? { ...stripInternal(info), ...(container ? { container } : {}) } : undefined;
      return {
        id: eventId(this.node, 'net', netns, entry.inode, direction),
        kind: 'network' as const,
        at: now,
        source: 'net' as const,
        protocol: entry.protocol,
        direction,
        local: entry.local,
        ...(direction !== 'listen' ? { remote: entry.remote } : {}),
        inode: entry.inode,
        ...(process ? { process, ancestors: this.processes.ancestors(process.pid) } : {}),
        ...(container ? { container, mainProcess: info ? this.processes.isMainProcess(info) : false } : {}),
      };
    });
  }

  /** The container owning a network namespace, when every member process is in the same container. */
  private namespaceContainer(members: number[]): ContainerRef | undefined {
    let found: ContainerRef | undefined;
    for (const pid of members) {
      const container = this.processes.get(pid)?.container;
      if (!container) return undefined;
      if (found && found.id !== container.id) return undefined;
      found = container;
    }
    return found;
  }

  private auditHostEvents(): HostEvent[] {
    if (!this.tail) return [];
    for (const line of this.tail.read()) {
      const record = parseAuditdLine(line);
      if (record) this.assembler.push(record);
    }
    this.assembler.tick();
    const out: HostEvent[] = [];
    for (const raw of this.auditEvents.splice(0)) out.push(...this.fromAudit(decodeAuditdEvent(raw)));
    return out;
  }

  /** Turns one decoded audit event into host events, attributed through /proc while the process lives. */
  fromAudit(a: DecodedAuditdEvent): HostEvent[] {
    if (a.pid === undefined || a.success === false) return [];
    const at = new Date(a.time * 1000).toISOString();
    const base = `${a.time}:${a.serial}`;
    const live = this.processes.get(a.pid);
    const cgroup = live ? undefined : readText(`${this.procRoot}/${a.pid}/cgroup`);
    const container = this.attribute(live?.container ?? (cgroup ? containerFromCgroup(cgroup) : undefined));
    const exe = a.exe ?? '';
    const process: ProcessInfo = {
      pid: a.pid,
      ppid: a.ppid ?? 0,
      startTime: live?.startTime ?? 0,
      uid: a.uid ?? -1,
      name: exe ? basename(exe) : a.comm ?? '',
      exe,
      comm: a.comm ?? '',
      argv: a.argv ?? a.proctitle ?? [],
      ...(a.cwd ? { cwd: a.cwd } : {}),
      ...(live?.stdin ? { stdin: live.stdin } : {}),
      ...(container ? { container } : {}),
    };
    const parent = a.ppid !== undefined ? this.processes.get(a.ppid) : undefined;
    const ancestors = parent ? [summarize(parent), ...this.processes.ancestors(parent.pid)] : [];
    const mainProcess = container ? !parent || parent.container?.id !== container.id : undefined;
    const common = {
      at,
      source: 'auditd' as const,
      process,
      ancestors,
      raw: a.records.map((r) => r.raw),
      ...(container ? { container } : {}),
      ...(mainProcess !== undefined ? { mainProcess } : {}),
    };
    const syscall = a.syscall ?? '';
    if (syscall === 'execve' || syscall === 'execveat') {
      return [{ id: eventId(this.node, 'audit', base, 'exec'), kind: 'exec', ...common }];
    }
    if ((syscall === 'connect' || syscall === 'bind') && (a.sockaddr?.family === 'inet' || a.sockaddr?.family === 'inet6')) {
      const endpoint = { ip: a.sockaddr.ip ?? '', port: a.sockaddr.port ?? 0 };
      return [{
        id: eventId(this.node, 'audit', base, 'net'), kind: 'network', ...common, protocol: 'tcp',
        direction: syscall === 'connect' ? 'connect' : 'listen',
        ...(syscall === 'connect' ? { local: { ip: '', port: 0 }, remote: endpoint } : { local: endpoint }),
      }];
    }
    const op = fileOp(syscall, a.openFlags);
    if (!op) return [];
    return a.paths.filter((p) => p.nametype !== 'PARENT').map((p, i): FileEvent => ({
      id: eventId(this.node, 'audit', base, 'file', i),
      kind: 'file',
      ...common,
      path: p.name.startsWith('/') || !a.cwd ? p.name : `${a.cwd.replace(/\/$/, '')}/${p.name}`,
      op: p.nametype === 'DELETE' ? 'delete' : p.nametype === 'CREATE' && op !== 'rename' ? 'create' : op,
    }));
  }

  private fileEvents(now: string): FileEvent[] {
    if (!this.files) return [];
    const roots: { root: string; container?: ContainerRef; pid?: number }[] = [{ root: `${this.procRoot}/1/root` }];
    const mains = new Map<string, ProcessInfo>();
    for (const { info } of this.processes.processes.values()) {
      if (info.container && this.processes.isMainProcess(info) && !mains.has(info.container.id)) mains.set(info.container.id, info);
    }
    for (const [, info] of mains) roots.push({ root: `${this.procRoot}/${info.pid}/root`, container: this.attribute(info.container)!, pid: info.pid });
    const byRoot = new Map(roots.map((r) => [r.root, r]));
    return this.files.poll(roots.map((r) => r.root)).map((change) => {
      const where = byRoot.get(change.root);
      return {
        id: eventId(this.node, 'file', where?.container?.id ?? 'host', change.path, change.op, change.mtimeMs, change.size),
        kind: 'file',
        at: now,
        source: 'files',
        path: change.path,
        op: change.op,
        ...(where?.container ? { container: where.container } : {}),
      };
    });
  }
}

function fileOp(syscall: string, flags: number | undefined): FileEvent['op'] | undefined {
  switch (syscall) {
    case 'open':
    case 'openat':
    case 'openat2':
      if (flags === undefined) return 'read';
      if (flags & O_TRUNC) return 'truncate';
      if (flags & O_CREAT) return 'create';
      return (flags & O_ACCMODE) === 0 ? 'read' : 'write';
    case 'creat': return 'create';
    case 'truncate':
    case 'ftruncate': return 'truncate';
    case 'rename':
    case 'renameat':
    case 'renameat2': return 'rename';
    case 'unlink':
    case 'unlinkat': return 'delete';
    case 'link':
    case 'linkat':
    case 'symlink':
    case 'symlinkat': return 'create';
    case 'chmod':
    case 'fchmodat':
    case 'chown':
    case 'fchownat': return 'attr';
    default: return undefined;
  }
}

function stripInternal(info: ProcessInfo & { stdinInode?: number; cgroupText?: string; code?: string }): ProcessInfo {
  const { stdinInode: _a, cgroupText: _b, code: _c, ...rest } = info;
  return rest;
}

function summarizeInfo(info: ProcessInfo & { stdinInode?: number; cgroupText?: string }): ProcessInfo {
  return stripInternal(info);
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
