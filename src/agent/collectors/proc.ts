/**
 * Processes from /proc: a full snapshot at start, then a cheap diff each interval — listing
 * /proc costs one getdents, and only new pids are read. Every few intervals the known pids'
 * stat lines are re-read to catch a process that exec'd in place (same pid, new program).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { containerFromCgroup } from '../containers.js';
import { basename, summarize, type ContainerRef, type ProcessInfo, type ProcessSummary } from '../events.js';

const NAMESPACE_KINDS = ['pid', 'net', 'mnt', 'user', 'uts', 'ipc', 'cgroup'] as const;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

export interface StatFields {
  comm: string;
  state: string;
  ppid: number;
  startTime: number;
  /** startcode-endcode (fields 26, 27): where the program text is mapped; changes on every exec (ASLR), even to the same program. */
  code: string;
}

/** /proc/PID/stat: comm is parenthesised and may hold spaces and ')', so split after the last ')'. */
export function parseStat(text: string): StatFields | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); ppid is field 4; starttime is field 22.
  const ppid = Number(rest[1]);
  const startTime = Number(rest[19]);
  if (!Number.isFinite(ppid) || !Number.isFinite(startTime)) return undefined;
  return { comm: text.slice(open + 1, close), state: rest[0] ?? '', ppid, startTime, code: `${rest[23] ?? ''}-${rest[24] ?? ''}` };
}

export interface StatusFields {
  uid: number;
  capEff?: string;
}

export function parseStatus(text: string): StatusFields {
  let uid = -1;
  let capEff: string | undefined;
  for (const line of text.split('\n')) {
    // Uid: real, effective, saved, filesystem — rules care about the effective one.
    if (line.startsWith('Uid:')) uid = Number(line.slice(4).trim().split(/\s+/)[1]);
    else if (line.startsWith('CapEff:')) capEff = line.slice(7).trim();
  }
  return { uid, ...(capEff ? { capEff } : {}) };
}

export function parseCmdline(text: string): string[] {
  const parts = text.split('\0');
  if (parts.at(-1) === '') parts.pop();
  return parts;
}

/**
 * "All capabilities" on this node: every capability the kernel knows (cap_last_cap) that the
 * host's init may hold (its CapBnd). A privileged container gets exactly the runtime's
 * bounding set, which on a nested or hardened host lacks some bits.
 */
export function fullCapabilityMask(procRoot = '/proc'): bigint {
  const last = Number(readText(`${procRoot}/sys/kernel/cap_last_cap`)?.trim() ?? '40');
  const known = (1n << BigInt(last + 1)) - 1n;
  const bounding = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readText(`${procRoot}/1/status`) ?? '')?.[1];
  return bounding ? known & BigInt(`0x${bounding}`) : known;
}

export function hasAllCapabilities(capEff: string | undefined, full: bigint): boolean {
  if (!capEff) return false;
  return (BigInt(`0x${capEff}`) & full) === full;
}

/** What fd 0 points at: `socket:[123]`, `pipe:[..]`, `/dev/pts/0`, `/dev/null`, a file. */
export function classifyFd(link: string | undefined): { type: NonNullable<ProcessInfo['stdin']>['type']; inode?: number } | undefined {
  if (link === undefined) return undefined;
  const socket = /^socket:\[(\d+)\]$/.exec(link);
  if (socket) return { type: 'socket', inode: Number(socket[1]) };
  if (link.startsWith('pipe:')) return { type: 'pipe' };
  if (link === '/dev/null') return { type: 'null' };
  if (/^\/dev\/(pts\/|tty)/.test(link)) return { type: 'tty' };
  if (link.startsWith('/')) return { type: 'file' };
  return { type: 'other' };
}

/** Reads one process; undefined when it vanished or cannot be read. */
export function readProcess(procRoot: string, pid: number): (ProcessInfo & { stdinInode?: number; cgroupText?: string; code: string }) | undefined {
  const base = `${procRoot}/${pid}`;
  const statText = readText(`${base}/stat`);
  if (!statText) return undefined;
  const stat = parseStat(statText);
  if (!stat) return undefined;
  const status = parseStatus(readText(`${base}/status`) ?? '');
  const argv = parseCmdline(readText(`${base}/cmdline`) ?? '');
  // Kernel threads have no exe and no argv: keep them (they are parents) but by comm only.
  const exe = (readLink(`${base}/exe`) ?? '').replace(/ \(deleted\)$/, '');
  const namespaces: Record<string, number> = {};
  for (const kind of NAMESPACE_KINDS) {
    const link = readLink(`${base}/ns/${kind}`);
    const inode = link ? /\[(\d+)\]/.exec(link)?.[1] : undefined;
    if (inode) namespaces[kind] = Number(inode);
  }
  const cgroupText = readText(`${base}/cgroup`);
  const container = cgroupText ? containerFromCgroup(cgroupText) : undefined;
  const fd0 = classifyFd(readLink(`${base}/fd/0`));
  const cwd = readLink(`${base}/cwd`);
  const name = exe ? basename(exe) : stat.comm;
  return {
    pid,
    ppid: stat.ppid,
    startTime: stat.startTime,
    uid: status.uid,
    name,
    exe,
    comm: stat.comm,
    argv,
    ...(cwd ? { cwd } : {}),
    ...(status.capEff ? { capEff: status.capEff } : {}),
    namespaces,
    ...(container ? { container } : {}),
    ...(fd0 ? { stdin: { type: fd0.type } } : {}),
    ...(fd0?.inode ? { stdinInode: fd0.inode } : {}),
    ...(cgroupText ? { cgroupText } : {}),
    code: stat.code,
  };
}

export function listPids(procRoot: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync(procRoot)) {
    const c = entry.charCodeAt(0);
    if (c >= 48 && c <= 57) pids.push(Number(entry));
  }
  return pids;
}

export interface TrackedProcess {
  info: ProcessInfo & { stdinInode?: number; cgroupText?: string };
  /** The comm and code mapping at the last stat read, to notice an exec in place. */
  comm: string;
  code: string;
}

export interface ProcDiff {
  /** Processes seen for the first time (or re-exec'd), in pid order. */
  started: TrackedProcess[];
  exited: number[];
}

/**
 * The process table. `poll()` lists /proc and reads only pids it has not seen; every
 * `statEvery` polls it also re-reads the stat line of known pids (exec in place, pid reuse).
 */
export class ProcessTable {
  readonly processes = new Map<number, TrackedProcess>();
  private polls = 0;
  constructor(readonly procRoot = '/proc', private readonly statEvery = 5) {}

  poll(): ProcDiff {
    const checkKnown = this.polls++ % this.statEvery === 0;
    const seen = new Set<number>();
    const started: TrackedProcess[] = [];
    for (const pid of listPids(this.procRoot)) {
      seen.add(pid);
      const known = this.processes.get(pid);
      if (known) {
        if (!checkKnown) continue;
        const stat = parseStat(readText(`${this.procRoot}/${pid}/stat`) ?? '');
        if (!stat) continue;
        if (stat.startTime === known.info.startTime && stat.comm === known.comm && stat.code === known.code) continue;
      }
      const info = readProcess(this.procRoot, pid);
      if (!info) continue;
      const tracked = { info, comm: info.comm, code: info.code };
      this.processes.set(pid, tracked);
      started.push(tracked);
    }
    const exited: number[] = [];
    for (const pid of this.processes.keys()) {
      if (!seen.has(pid)) {
        exited.push(pid);
        this.processes.delete(pid);
      }
    }
    return { started, exited };
  }

  get(pid: number): ProcessInfo | undefined {
    return this.processes.get(pid)?.info;
  }

  /** Parent chain, nearest first, bounded; stops at pid 1 or the first unknown parent. */
  ancestors(pid: number, max = 8): ProcessSummary[] {
    const chain: ProcessSummary[] = [];
    let current = this.processes.get(pid)?.info;
    const seen = new Set<number>([pid]);
    while (current && chain.length < max) {
      const parentPid = current.ppid;
      if (!parentPid || seen.has(parentPid)) break;
      seen.add(parentPid);
      const parent = this.processes.get(parentPid)?.info ?? (this.readLate(parentPid));
      if (!parent) break;
      chain.push(summarize(parent));
      current = parent;
    }
    return chain;
  }

  /** A parent started after the last poll: read it now so the chain is complete. */
  private readLate(pid: number): ProcessInfo | undefined {
    const info = readProcess(this.procRoot, pid);
    if (!info) return undefined;
    this.processes.set(pid, { info, comm: info.comm, code: info.code });
    return info;
  }

  /** A container's main process: its parent is not in the same container. */
  isMainProcess(info: ProcessInfo): boolean {
    if (!info.container) return false;
    const parent = this.processes.get(info.ppid)?.info;
    return !parent || parent.container?.id !== info.container.id;
  }

  containerOf(pid: number): ContainerRef | undefined {
    return this.processes.get(pid)?.info.container;
  }
}

/** Device cgroup v1 of a process allows every device (privileged containers get `a *:* rwm`). */
export function allowsAllDevices(cgroupText: string | undefined, cgroupRoot = '/sys/fs/cgroup'): boolean {
  if (!cgroupText) return false;
  const line = cgroupText.split('\n').find((l) => /^\d+:devices:/.test(l));
  if (!line) return false;
  const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
  const list = readText(`${cgroupRoot}/devices${path}/devices.list`);
  return list !== undefined && /^a \*:\* rwm$/m.test(list);
}
