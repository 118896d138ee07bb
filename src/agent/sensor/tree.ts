/**
 * Turns the sensor's records into host events around a process tree kept from fork, exec and
 * exit. A process that lived a millisecond still gets its container (through its cgroup id,
 * then its parent, then its mount namespace) and its ancestry (parents stay in the tree for a
 * minute after they exit). Memory is bounded: exited processes are forgotten after that minute,
 * and every side table has a cap.
 */
import { readFileSync } from 'node:fs';
import { containerFromCgroup } from '../containers.js';
import { readProcess } from '../collectors/proc.js';
import { basename, eventId, type ContainerRef, type Endpoint, type ExecEvent, type FileEvent, type HostEvent, type NetworkEvent, type ProcessInfo, type ProcessSummary, type SyscallEvent } from '../events.js';
import type { CgroupResolver } from './cgroups.js';
import { UpperLayerCheck } from './overlay.js';
import type { SensorRecord } from './records.js';

const KEEP_EXITED_NS = 60e9;
const MAX_PROCESSES = 65_536;
const MAX_SIDE = 16_384;
const MAX_ARGS = 64;
const AT_EMPTY_PATH = 0x1000;
const S_IFMT = 0o170000;
const O_ACCMODE = 0o3;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;

const NAMESPACE_FLAGS: [number, string][] = [
  [0x00020000, 'mnt'], [0x04000000, 'uts'], [0x08000000, 'ipc'], [0x10000000, 'user'],
  [0x20000000, 'pid'], [0x40000000, 'net'], [0x02000000, 'cgroup'], [0x00000080, 'time'],
];
const SIGNALS: Record<number, string> = { 2: 'SIGINT', 3: 'SIGQUIT', 6: 'SIGABRT', 9: 'SIGKILL', 15: 'SIGTERM', 19: 'SIGSTOP' };
/** Distinct processes one process signals within MASS_KILL_WINDOW_NS that make a mass kill. */
export const MASS_KILL_TARGETS = 20;
const MASS_KILL_WINDOW_NS = 10e9;
const PTRACE_REQUESTS: Record<number, string> = { 4: 'POKETEXT', 5: 'POKEDATA', 6: 'POKEUSER', 16: 'ATTACH', 0x4206: 'SEIZE' };

interface TreeProcess {
  pid: number;
  ppid: number;
  name: string;
  exe: string;
  comm: string;
  argv: string[];
  uid: number;
  startTime: number;
  container?: ContainerRef;
  mntns?: number;
  netns?: number;
  stdin?: ProcessInfo['stdin'];
  /** Made by a fork and not exec'd since (a copy of its parent). */
  forked?: boolean;
  exitedNs?: number;
}

export interface KernelEventsOptions {
  node: string;
  procRoot: string;
  cgroups: CgroupResolver;
  /** Adds pod facts (kubelet or CRI) to a container. */
  attribute: (container: ContainerRef) => ContainerRef;
  /** Kernel monotonic ns → wall-clock ms. */
  wallMs: (ns: number) => number;
  /** Prefix under which the host's files (containerd's snapshot directories) are visible, when not at /. */
  hostRoot?: string;
}

/** Stdin's file type (i_mode) as the rules name it. */
function stdinType(mode: number): ProcessInfo['stdin'] {
  switch (mode & S_IFMT) {
    case 0o140000: return { type: 'socket' };
    case 0o010000: return { type: 'pipe' };
    case 0o100000: return { type: 'file' };
    case 0o020000: return { type: 'other' }; // a character device: a terminal or /dev/null
    default: return undefined;
  }
}

function fileOp(flags: number): FileEvent['op'] {
  if (flags & O_TRUNC) return 'truncate';
  if (flags & O_CREAT) return 'create';
  return (flags & O_ACCMODE) === 0 ? 'read' : 'write';
}

function namespaces(flags: number): string {
  return NAMESPACE_FLAGS.filter(([bit]) => flags & bit).map(([, name]) => name).join(',');
}

/** Keeps a Map under a size by dropping its oldest entries. */
function capped<K, V>(map: Map<K, V>, max: number): void {
  if (map.size <= max) return;
  for (const key of map.keys()) {
    map.delete(key);
    if (map.size <= max) return;
  }
}

/** The arguments of an exec seen entering, until its completion (X); `filename` and `flags` come only from execveat's E record. */
interface PendingExec {
  t: number;
  filename?: string;
  flags: number;
  argv: string[];
}

export class KernelEvents {
  private readonly tree = new Map<number, TreeProcess>();
  /** pid → when it exited, in exit order: what forgetExited drops once KEEP_EXITED_NS passed. */
  private readonly exits = new Map<number, number>();
  private readonly pendingExec = new Map<number, PendingExec>();
  /** Execs waiting one batch for their execve record, with the D/Z/Q records that followed them. */
  private readonly held = new Map<number, { exec: Extract<SensorRecord, { k: 'X' }>; after: SensorRecord[] }>();
  private readonly binds = new Map<string, Endpoint>();
  private readonly lastConnect = new Map<number, { remote: string; t: number }>();
  /** Mount namespace → container, learned from processes whose cgroup named it. */
  private readonly mntnsContainer = new Map<number, ContainerRef>();
  /** Mount namespace → the first process exec'd in it (a container's main process): a live process to read its mounts from. */
  private readonly mntnsPid = new Map<number, number>();
  private readonly upperLayer: UpperLayerCheck;
  /** Per signalling process: the distinct targets of its terminating signals in the current window. */
  private readonly killWindows = new Map<number, { start: number; targets: Set<number>; reported: boolean }>();
  private lastT = 0;

  constructor(private readonly options: KernelEventsOptions) {
    this.upperLayer = new UpperLayerCheck({ procRoot: options.procRoot, ...(options.hostRoot ? { hostRoot: options.hostRoot } : {}) });
  }

  get size(): number {
    return this.tree.size;
  }

  /** Adds a process known from /proc (the agent's start snapshot), so older ancestors have names. */
  seed(info: ProcessInfo): void {
    if (this.tree.has(info.pid)) return;
    this.tree.set(info.pid, {
      pid: info.pid, ppid: info.ppid, name: info.name, exe: info.exe, comm: info.comm, argv: info.argv, uid: info.uid, startTime: info.startTime,
      ...(info.container ? { container: info.container } : {}),
      ...(info.namespaces?.mnt ? { mntns: info.namespaces.mnt } : {}),
      ...(info.namespaces?.net ? { netns: info.namespaces.net } : {}),
    });
    if (info.container && info.namespaces?.mnt) this.mntnsContainer.set(info.namespaces.mnt, info.container);
  }

  /**
   * The events of a batch of records (in kernel time order). An exec whose execve record has not
   * arrived yet is held until the next batch: exec moves a task to another CPU (sched_exec), and
   * on a busy node bpftrace may read the first CPU's buffer, with the arguments, after the grace
   * window let the completion through. `final` (the last batch) holds nothing back.
   */
  ingest(batch: SensorRecord[], final = false): HostEvent[] {
    const events: HostEvent[] = [];
    const lastExec = new Map<number, ExecEvent>();
    const lastMount = new Map<number, SyscallEvent>();
    const lastOpen = new Map<number, string>();
    const { records, replayed } = this.releaseHeld(batch);
    for (const r of records) {
      this.lastT = Math.max(this.lastT, r.t);
      const held = this.held.get(r.pid);
      if (held && (r.k === 'D' || r.k === 'Z' || r.k === 'Q')) {
        held.after.push(r); // facts about the held exec, applied when it is built
        continue;
      }
      if (r.k === 'X' && !final && !replayed.has(r) && !this.pendingExec.has(r.pid)) {
        this.held.set(r.pid, { exec: r, after: [] });
        capped(this.held, MAX_SIDE);
        continue;
      }
      switch (r.k) {
        case 'E': {
          // execveat's E comes after its arguments (host.bt): it adds its flags to the exec they
          // started. Without them (lost, or a recording where E came first) it starts one itself.
          const pending = this.pendingExec.get(r.pid);
          if (pending && pending.t <= r.t && pending.flags === 0 && pending.filename === undefined) {
            pending.flags = r.flags;
            pending.filename = r.filename;
          } else this.startExec(r.pid, r.t, r.filename, r.flags);
          break;
        }
        case 'A': {
          // The first argument starts an exec (execve prints no E record: its completion names the file).
          const pending = r.index === 0 ? this.startExec(r.pid, r.t, undefined, 0) : this.pendingExec.get(r.pid);
          if (pending && r.index < MAX_ARGS) pending.argv[r.index] = r.arg;
          break;
        }
        case 'X': {
          const event = this.exec(r);
          lastExec.set(r.pid, event);
          events.push(event);
          break;
        }
        case 'D': {
          const event = lastExec.get(r.pid);
          if (event) event.program = { ...event.program, deleted: true, dentry: r.dentry };
          break;
        }
        case 'Z': {
          const event = lastExec.get(r.pid);
          if (event) this.markUpperLayer(event, r.upper);
          break;
        }
        case 'F': {
          // A new process has no exec under way (arguments newer than the fork are its own, read first).
          this.forgetExecBefore(r.child, r.t);
          const parent = this.process(r.pid);
          if (!this.tree.has(r.child) && parent) {
            // The parent's copy, field by field (a spread of a tree entry was one of the costliest lines per fork).
            this.tree.set(r.child, {
              pid: r.child, ppid: r.pid, name: parent.name, exe: parent.exe, comm: parent.comm, argv: parent.argv, uid: parent.uid,
              startTime: Math.floor(r.t / 1e7), container: parent.container, mntns: parent.mntns, netns: parent.netns, stdin: parent.stdin, forked: true,
            });
          }
          break;
        }
        case 'Q': {
          // A failed exec's arguments end with the process.
          this.forgetExecBefore(r.pid, r.t);
          const p = this.tree.get(r.pid);
          if (p) {
            p.exitedNs = r.t;
            this.exits.delete(r.pid); // re-inserted at the end: the map stays in exit order
            this.exits.set(r.pid, r.t);
            capped(this.exits, MAX_PROCESSES);
          }
          break;
        }
        case 'C':
        case 'K': {
          if (r.socketType !== 1 && r.socketType !== 2) break;
          const remote = { ip: r.ip, port: r.port };
          if (r.k === 'C') {
            this.lastConnect.set(r.pid, { remote: `${r.ip}:${r.port}`, t: r.t });
            capped(this.lastConnect, MAX_SIDE);
          }
          events.push(this.network(r, r.k === 'C' ? 'connect' : 'accept', r.socketType === 2 ? 'udp' : 'tcp', { ip: '', port: 0 }, remote));
          break;
        }
        case 'B':
          this.binds.set(`${r.pid}:${r.fd}`, { ip: r.ip, port: r.port });
          capped(this.binds, MAX_SIDE);
          break;
        case 'L': {
          const local = this.binds.get(`${r.pid}:${r.fd}`) ?? { ip: '', port: 0 };
          events.push(this.network(r, 'listen', 'tcp', local));
          break;
        }
        case 'O': {
          // An open matching two of the script's prefix filters arrives twice: keep one.
          const key = `${r.flags}\u0000${r.path}`;
          if (lastOpen.get(r.pid) === key) break;
          lastOpen.set(r.pid, key);
          events.push(this.file(r, r.path, fileOp(r.flags)));
          break;
        }
        case 'U':
          events.push(this.file(r, r.path, r.op === 'unlink' ? 'delete' : r.op));
          break;
        case 'M':
          events.push(this.syscall(r, 'memfd_create', { name: r.name, flags: r.flags }));
          break;
        case 'I':
          events.push(this.syscall(r, r.call, r.detail ? { detail: r.detail } : {}));
          break;
        case 'P':
          events.push(this.syscall(r, 'ptrace', { request: r.request, requestName: PTRACE_REQUESTS[r.request] ?? String(r.request), target: r.target }));
          break;
        case 'N': {
          const event = this.syscall(r, 'mount', { target: r.text });
          lastMount.set(r.pid, event);
          events.push(event);
          break;
        }
        case 'T':
        case 'G': {
          const event = lastMount.get(r.pid);
          if (event) event.args[r.k === 'T' ? 'fstype' : 'source'] = r.text;
          break;
        }
        case 'S':
          events.push(this.syscall(r, 'setuid', { from: r.from, to: r.to }));
          break;
        case 'H':
          events.push(this.syscall(r, 'utimensat', { path: r.path, mtime: new Date(r.mtime * 1000).toISOString() }));
          break;
        case 'J':
          events.push(this.kill(r));
          break;
        case 'Y':
          events.push(this.syscall(r, 'capset', {}));
          break;
        case 'W':
        case 'V':
          events.push(this.syscall(r, r.k === 'W' ? 'unshare' : 'setns', { flags: r.flags, namespaces: namespaces(r.flags) }));
          break;
      }
    }
    this.forgetExited();
    return events;
  }

  private startExec(pid: number, t: number, filename: string | undefined, flags: number): PendingExec {
    // Delete first so the entry moves to the end: pids are reused (pid_max is often 32,768), and a
    // reused pid's stale entry (an execve that failed, a PATH search) would otherwise keep its old
    // place and be the first dropped by the cap, before this exec completes.
    this.pendingExec.delete(pid);
    // Field by field, as a fork's copy is: this runs for every exec.
    const pending: PendingExec = { t, flags, argv: [] };
    if (filename !== undefined) pending.filename = filename;
    this.pendingExec.set(pid, pending);
    capped(this.pendingExec, MAX_SIDE);
    return pending;
  }

  /**
   * Drops the arguments `pid` gathered before `t` for an exec that never completed: pids come
   * round again, and what the earlier holder left must not become the next one's arguments.
   */
  private forgetExecBefore(pid: number, t: number): void {
    if ((this.pendingExec.get(pid)?.t ?? Infinity) < t) this.pendingExec.delete(pid);
  }

  /** Execs held back last batch, with their late execve and argument records from this one, put first. */
  private releaseHeld(batch: SensorRecord[]): { records: SensorRecord[]; replayed: Set<SensorRecord> } {
    if (!this.held.size) return { records: batch, replayed: new Set() };
    const held = [...this.held.values()];
    this.held.clear();
    const late = new Map(held.map((h) => [h.exec.pid, h.exec.t]));
    const arguments_: SensorRecord[] = [];
    const rest: SensorRecord[] = [];
    for (const r of batch) {
      const before = late.get(r.pid);
      if ((r.k === 'E' || r.k === 'A') && before !== undefined && r.t <= before) arguments_.push(r);
      else rest.push(r);
    }
    const replay = held.flatMap((h) => [h.exec, ...h.after]);
    return { records: [...arguments_, ...replay, ...rest], replayed: new Set(replay) };
  }

  private forgetExited(): void {
    // execve records that never completed (failed execs): oldest first, as entries are (re)inserted.
    for (const [pid, pending] of this.pendingExec) {
      if (this.lastT - pending.t <= KEEP_EXITED_NS) break;
      this.pendingExec.delete(pid);
    }
    // Exited processes past their keep time, oldest first: only those are visited, not the whole tree.
    for (const [pid, exitedNs] of this.exits) {
      if (this.lastT - exitedNs <= KEEP_EXITED_NS) break;
      this.exits.delete(pid);
      // Unless the pid was reused since (a new process in its place, not exited or exited later).
      if (this.tree.get(pid)?.exitedNs === exitedNs) this.tree.delete(pid);
    }
    if (this.tree.size > MAX_PROCESSES) {
      for (const [pid, p] of this.tree) {
        if (p.exitedNs !== undefined || p.forked) this.tree.delete(pid);
        if (this.tree.size <= MAX_PROCESSES * 0.9) break;
      }
    }
  }

  /** A process from the tree, else read from /proc (it existed before the sensor started). */
  private process(pid: number): TreeProcess | undefined {
    const known = this.tree.get(pid);
    if (known || pid <= 0) return known;
    const info = readProcess(this.options.procRoot, pid);
    if (!info) return undefined;
    this.seed(info);
    return this.tree.get(pid);
  }

  private exec(r: Extract<SensorRecord, { k: 'X' }>): ExecEvent {
    const pending = this.pendingExec.get(r.pid);
    this.pendingExec.delete(r.pid);
    const argv = pending && pending.t <= r.t ? Array.from(pending.argv, (a) => a ?? '') : [];
    const exe = r.filename;
    const parent = this.process(r.ppid);
    const place = this.options.cgroups.lookup(r.cgroup);
    // The cgroup vanished already (or is unknown): the process if alive, its parent in the same mount namespace, or the namespace.
    let container = place
      ? place.container
      : this.liveContainer(r.pid)
        ?? (parent && parent.mntns === r.mntns ? parent.container : undefined)
        ?? this.mntnsContainer.get(r.mntns);
    if (container) {
      container = this.options.attribute(container);
      this.mntnsContainer.set(r.mntns, container);
      capped(this.mntnsContainer, MAX_SIDE);
    }
    const stdin = stdinType(r.stdinMode);
    if (stdin?.type === 'socket') {
      const connect = this.lastConnect.get(r.pid) ?? this.lastConnect.get(r.ppid);
      if (connect && r.t - connect.t < KEEP_EXITED_NS) stdin.remote = connect.remote;
    }
    const name = basename(exe);
    const node: TreeProcess = {
      pid: r.pid, ppid: r.ppid, name, exe, comm: name.slice(0, 15), argv: argv.length ? argv : [exe], uid: r.uid,
      startTime: this.tree.get(r.pid)?.startTime ?? Math.floor(r.t / 1e7),
      mntns: r.mntns, netns: r.netns,
      ...(container ? { container } : {}),
      ...(stdin ? { stdin } : {}),
    };
    this.tree.set(r.pid, node);
    capped(this.tree, MAX_PROCESSES * 1.1);
    if (!this.mntnsPid.has(r.mntns)) {
      this.mntnsPid.set(r.mntns, r.pid);
      capped(this.mntnsPid, MAX_SIDE);
    }
    const wall = this.options.wallMs(r.t);
    // Bit 31 of i_ctime_nsec is the kernel's multigrain "ctime queried" flag (6.13+), not time.
    const changedMs = r.ctime * 1000 + Math.floor((r.ctimeNsec & 0x3fffffff) / 1e6);
    const viaFd = ((pending?.flags ?? 0) & AT_EMPTY_PATH) !== 0 || /^\/(proc\/(self|\d+)|dev)\/fd\/\d+$/.test(pending?.filename ?? exe);
    const program: NonNullable<ExecEvent['program']> = {};
    if (r.ctime > 0) {
      program.changedAt = new Date(changedMs).toISOString();
      program.ageSeconds = Math.max(0, Math.round((wall - changedMs) / 1000));
    }
    if (r.nlink === 0) program.deleted = true;
    if (viaFd) program.viaFd = true;
    // The cgroup is made before the container's first process; the image's files were unpacked before that.
    if (container && place && r.ctime > 0) program.writtenAfterStart = changedMs > place.createdMs;
    return {
      id: eventId(this.options.node, 'ebpf', 'exec', r.pid, r.t),
      kind: 'exec',
      at: new Date(wall).toISOString(),
      source: 'ebpf',
      process: this.info(node),
      ancestors: this.ancestors(node),
      ...(container ? { container, mainProcess: !parent || parent.container?.id !== container.id } : {}),
      program,
    };
  }

  /**
   * The upper-layer answer for an exec on overlayfs: the agent's own lookup of the executed path
   * in the container's layers when it can make one (it also says where the file is), else the
   * kernel's (the overlay inode's upper dentry), which holds even for a file deleted since.
   */
  private markUpperLayer(event: ExecEvent, kernelUpper: boolean): void {
    const mntns = event.process.namespaces?.mnt ?? 0;
    const finding = this.upperLayer.check(event.process.exe, mntns, [event.process.pid, event.process.ppid, this.mntnsPid.get(mntns) ?? 0]);
    event.program = { ...event.program, upperLayer: finding?.upperLayer ?? kernelUpper, ...(finding ? { layerPath: finding.hostPath } : {}) };
  }

  /** A kill event with what is known of its target, and how many processes the sender signalled lately. */
  private kill(r: Extract<SensorRecord, { k: 'J' }>): SyscallEvent {
    const target = this.process(r.target);
    let window = this.killWindows.get(r.pid);
    if (!window || r.t - window.start > MASS_KILL_WINDOW_NS) {
      window = { start: r.t, targets: new Set(), reported: false };
      this.killWindows.set(r.pid, window);
      capped(this.killWindows, MAX_SIDE);
    }
    // Targets past the threshold are not kept: the count only has to reach it once per window.
    if (window.targets.size < MASS_KILL_TARGETS) window.targets.add(r.target);
    const burst = window.targets.size >= MASS_KILL_TARGETS && !window.reported ? 1 : 0;
    if (burst) window.reported = true;
    return this.syscall(r, 'kill', {
      target: r.target, signal: r.signal, signalName: SIGNALS[r.signal] ?? String(r.signal),
      targetName: target?.name ?? r.comm, targetExe: target?.exe ?? '', targets: window.targets.size, burst,
    });
  }

  private liveContainer(pid: number): ContainerRef | undefined {
    try {
      return containerFromCgroup(readFileSync(`${this.options.procRoot}/${pid}/cgroup`, 'latin1'));
    } catch {
      return undefined;
    }
  }

  /**
   * What events say of a process, made once per tree entry: a process's many events (and every
   * exec under it, through its ancestry) share one object, and eventView makes its view once.
   * Kept beside the entry, not on it, so the entry's copy for a forked child cannot carry them.
   * An entry is replaced, never changed, when what they hold changes (exec, seed).
   */
  private readonly infos = new WeakMap<TreeProcess, ProcessInfo>();
  private readonly summaries = new WeakMap<TreeProcess, ProcessSummary>();

  private info(p: TreeProcess): ProcessInfo {
    let info = this.infos.get(p);
    if (!info) {
      info = this.makeInfo(p);
      this.infos.set(p, info);
    }
    return info;
  }

  private summary(p: TreeProcess): ProcessSummary {
    let summary = this.summaries.get(p);
    if (!summary) {
      summary = { pid: p.pid, name: p.name, exe: p.exe, argv: p.argv };
      this.summaries.set(p, summary);
    }
    return summary;
  }

  private makeInfo(p: TreeProcess): ProcessInfo {
    return {
      pid: p.pid, ppid: p.ppid, startTime: p.startTime, uid: p.uid, name: p.name, exe: p.exe, comm: p.comm, argv: p.argv,
      ...(p.mntns || p.netns ? { namespaces: { ...(p.mntns ? { mnt: p.mntns } : {}), ...(p.netns ? { net: p.netns } : {}) } } : {}),
      ...(p.container ? { container: p.container } : {}),
      ...(p.stdin ? { stdin: p.stdin } : {}),
    };
  }

  /** Parent chain, nearest first, at most 8. */
  private ancestors(p: TreeProcess): ProcessSummary[] {
    const chain: ProcessSummary[] = [];
    const seen = new Set<number>([p.pid]);
    let current = p;
    while (chain.length < 8 && current.ppid > 0 && !seen.has(current.ppid)) {
      seen.add(current.ppid);
      const parent = this.process(current.ppid);
      if (!parent) break;
      chain.push(this.summary(parent));
      current = parent;
    }
    return chain;
  }

  /** What every non-exec event carries about its process. */
  private context(pid: number): Pick<HostEvent, 'process' | 'ancestors' | 'container' | 'mainProcess'> {
    const p = this.process(pid);
    if (!p) return {};
    const parent = this.tree.get(p.ppid);
    return {
      process: this.info(p),
      ancestors: this.ancestors(p),
      ...(p.container ? { container: p.container, mainProcess: !parent || parent.container?.id !== p.container.id } : {}),
    };
  }

  private network(r: SensorRecord, direction: NetworkEvent['direction'], protocol: NetworkEvent['protocol'], local: Endpoint, remote?: Endpoint): NetworkEvent {
    return {
      id: eventId(this.options.node, 'ebpf', 'net', r.pid, r.t),
      kind: 'network', at: new Date(this.options.wallMs(r.t)).toISOString(), source: 'ebpf',
      protocol, direction, local, ...(remote ? { remote } : {}),
      ...this.context(r.pid),
    };
  }

  private file(r: SensorRecord, path: string, op: FileEvent['op']): FileEvent {
    return {
      id: eventId(this.options.node, 'ebpf', 'file', r.pid, r.t, path),
      kind: 'file', at: new Date(this.options.wallMs(r.t)).toISOString(), source: 'ebpf', path, op,
      ...this.context(r.pid),
    };
  }

  private syscall(r: SensorRecord, call: SyscallEvent['call'], args: SyscallEvent['args']): SyscallEvent {
    return {
      id: eventId(this.options.node, 'ebpf', call, r.pid, r.t),
      kind: 'syscall', at: new Date(this.options.wallMs(r.t)).toISOString(), source: 'ebpf', call, args,
      ...this.context(r.pid),
    };
  }
}
