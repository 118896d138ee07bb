/**
 * Host events: what the collectors see on a node, normalized so rules never care whether a
 * fact came from /proc polling or from the kernel's audit log. Every event has a stable id
 * derived from what it describes (pid + start time, socket inode, audit serial), so the same
 * fact seen twice — after an agent restart or a resend from the spool — is stored once.
 */
import { sha256Hex } from '../core/index.js';

export interface ContainerRef {
  id: string;
  runtime: 'containerd' | 'cri-o' | 'docker' | 'runc' | 'podman' | 'unknown';
  /** From the CRI or the kubelet, when available. */
  name?: string;
  pod?: string;
  namespace?: string;
  podUid?: string;
  image?: string;
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Clock ticks since boot (field 22 of /proc/PID/stat): pid + start time is unique on a boot. */
  startTime: number;
  uid: number;
  /** Short name: basename of the executable, else comm. */
  name: string;
  exe: string;
  comm: string;
  argv: string[];
  cwd?: string;
  /** Effective capabilities as a hex mask (CapEff). */
  capEff?: string;
  /** Namespace inode numbers by kind (pid, net, mnt, ...). */
  namespaces?: Record<string, number>;
  container?: ContainerRef;
  /** What fd 0 is: a socket (with the connection when known), a pipe, a tty or a file. */
  stdin?: { type: 'socket' | 'pipe' | 'tty' | 'file' | 'null' | 'other'; remote?: string };
}

/** A process's ancestors, nearest first, in short form. */
export interface ProcessSummary {
  pid: number;
  name: string;
  exe: string;
  argv: string[];
}

export interface Endpoint {
  ip: string;
  port: number;
}

interface EventBase {
  id: string;
  /** ISO time the event happened (or was first observed). */
  at: string;
  /** ebpf: the bpftrace host sensor (sensor/); the others are the /proc + auditd fallback. */
  source: 'proc' | 'net' | 'auditd' | 'files' | 'ebpf';
  process?: ProcessInfo;
  /** Parent chain, nearest first (parent, grandparent, ...). */
  ancestors?: ProcessSummary[];
  container?: ContainerRef;
  /** Whether the process is the container's main process (its parent is outside the container). */
  mainProcess?: boolean;
  /** The raw records behind the event (audit lines), kept as evidence. */
  raw?: string[];
}

export interface ExecEvent extends EventBase {
  kind: 'exec';
  process: ProcessInfo;
  /** What the kernel knew of the executed file (eBPF sensor only). */
  program?: ProgramFacts;
}

export interface ProgramFacts {
  /** The file's inode change time: when it was written, copied in or chmod'ed. */
  changedAt?: string;
  /** No name on disk: a memfd or a deleted file (fileless execution). */
  deleted?: boolean;
  /** memfd_create's name ("memfd:x") or the deleted file's last name, when deleted. */
  dentry?: string;
  /** Executed through a file descriptor (execveat with AT_EMPTY_PATH, /proc/self/fd/N, /dev/fd/N). */
  viaFd?: boolean;
  /** In a container, changed after the container started: not shipped in its image. */
  writtenAfterStart?: boolean;
  /**
   * On overlayfs, the file is in the container's writable upper layer: created, copied in or
   * changed after the container started, so not as its image shipped it (Falco's
   * proc.is_exe_upper_layer). Absent when the file is not on an overlay.
   */
  upperLayer?: boolean;
  /** Where the agent found the file on the host (the upper or lower layer directory), when it could. */
  layerPath?: string;
  /** Seconds between the file's last change and its execution (written then run). */
  ageSeconds?: number;
}

export interface NetworkEvent extends EventBase {
  kind: 'network';
  protocol: 'tcp' | 'udp';
  /** listen: a listening socket; connect: an outbound connection; accept: an inbound one. */
  direction: 'listen' | 'connect' | 'accept';
  local: Endpoint;
  remote?: Endpoint;
  inode?: number;
}

export interface FileEvent extends EventBase {
  kind: 'file';
  path: string;
  op: 'write' | 'create' | 'delete' | 'rename' | 'truncate' | 'read' | 'modify' | 'attr';
}

/** A container seen for the first time, described by its main process. */
export interface ContainerEvent extends EventBase {
  kind: 'container';
  container: ContainerRef;
  privileged: boolean;
  /** Every capability in CapEff. */
  allCapabilities: boolean;
  /** The device cgroup allows every device (`a *:* rwm`). */
  hostDevices: boolean;
}

/** A security-relevant system call seen by the eBPF sensor. */
export interface SyscallEvent extends EventBase {
  kind: 'syscall';
  call: 'memfd_create' | 'init_module' | 'finit_module' | 'ptrace' | 'mount' | 'setuid' | 'capset' | 'unshare' | 'setns' | 'utimensat' | 'kill';
  /**
   * Call-specific: memfd_create { name }, ptrace { request, requestName, target }, mount { source,
   * target, fstype }, setuid { from, to }, unshare/setns { flags, namespaces: "mnt,net,..." },
   * utimensat { path, mtime (ISO) }, kill { target (host pid), signal, signalName, targetName, targetExe,
   * targets: distinct processes this process signalled in the last 10 s, burst: 1 on the signal that
   * reached the mass-kill threshold }.
   */
  args: Record<string, string | number>;
}

export type HostEvent = ExecEvent | NetworkEvent | FileEvent | ContainerEvent | SyscallEvent;
export type HostEventKind = HostEvent['kind'];

/** A stable id from the facts that identify an event on a node. */
export function eventId(node: string, ...parts: (string | number | undefined)[]): string {
  return 'evt_' + sha256Hex([node, ...parts.map((p) => String(p ?? ''))].join('\u0000')).slice(0, 32);
}

export function summarize(p: ProcessInfo): ProcessSummary {
  return { pid: p.pid, name: p.name, exe: p.exe, argv: p.argv };
}

export function basename(path: string): string {
  const i = path.lastIndexOf('/');
  return i >= 0 ? path.slice(i + 1) : path;
}
