/**
 * Sockets from /proc/PID/net/{tcp,tcp6,udp,udp6}, read once per network namespace (a
 * container has its own), and socket inode → process by reading fd links. The fd scan is
 * the expensive part, so it runs only for inodes not seen before, and stops once they are found.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Endpoint } from '../events.js';

export type Protocol = 'tcp' | 'udp';

/**
 * One socket line. Addresses are decoded on first use: on a busy node thousands of lines are
 * read each interval and only the new sockets' addresses are ever looked at.
 */
export class SocketEntry {
  private localEndpoint: Endpoint | undefined;
  private remoteEndpoint: Endpoint | undefined;
  constructor(
    readonly protocol: Protocol,
    private readonly localHex: string,
    private readonly remoteHex: string,
    /** Kernel state code: TCP 0A LISTEN, 01 ESTABLISHED, 02 SYN_SENT; UDP 07 unconnected, 01 connected. */
    readonly state: number,
    readonly uid: number,
    readonly inode: number,
  ) {}

  get local(): Endpoint {
    return (this.localEndpoint ??= endpoint(this.localHex));
  }

  get remote(): Endpoint {
    return (this.remoteEndpoint ??= endpoint(this.remoteHex));
  }

  get localPort(): number {
    return portOf(this.localHex);
  }

  get remotePort(): number {
    return portOf(this.remoteHex);
  }

  toJSON(): object {
    return { protocol: this.protocol, local: this.local, remote: this.remote, state: this.state, uid: this.uid, inode: this.inode };
  }
}

function portOf(field: string): number {
  return Number.parseInt(field.slice(field.indexOf(':') + 1), 16);
}

export const TCP_STATE = { ESTABLISHED: 0x01, SYN_SENT: 0x02, LISTEN: 0x0a } as const;

/** Kernel hex addresses are 32-bit words in host (little-endian) order. */
export function decodeAddress(hex: string): string {
  if (hex.length === 8) {
    const n = Number.parseInt(hex, 16);
    return `${n & 0xff}.${(n >>> 8) & 0xff}.${(n >>> 16) & 0xff}.${n >>> 24}`;
  }
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(Number.parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  // IPv4-mapped (::ffff:a.b.c.d) is reported as the IPv4 address: threat lists hold IPv4.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return compressIpv6(groups);
}

function compressIpv6(groups: string[]): string {
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLength && j - i > 1) { bestStart = i; bestLength = j - i; }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`;
}

function endpoint(field: string): Endpoint {
  const colon = field.indexOf(':');
  return { ip: decodeAddress(field.slice(0, colon)), port: Number.parseInt(field.slice(colon + 1), 16) };
}

/** One /proc/net/{tcp,udp}{,6} file. Split by hand: thousands of lines per interval on busy nodes. */
export function parseProcNet(text: string, protocol: Protocol): SocketEntry[] {
  const entries: SocketEntry[] = [];
  let lineStart = text.indexOf('\n') + 1; // skip the header
  const fields: string[] = [];
  while (lineStart > 0 && lineStart < text.length) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    fields.length = 0;
    let i = lineStart;
    while (i < lineEnd && fields.length < 10) {
      while (i < lineEnd && text.charCodeAt(i) === 32) i++;
      const start = i;
      while (i < lineEnd && text.charCodeAt(i) !== 32) i++;
      if (i > start) fields.push(text.slice(start, i));
    }
    lineStart = lineEnd + 1;
    if (fields.length < 10) continue;
    entries.push(new SocketEntry(protocol, fields[1]!, fields[2]!, Number.parseInt(fields[3]!, 16), Number(fields[7]), Number(fields[9])));
  }
  return entries;
}

export function isListening(entry: SocketEntry): boolean {
  if (entry.protocol === 'tcp') return entry.state === TCP_STATE.LISTEN;
  return entry.remotePort === 0;
}

export function isConnection(entry: SocketEntry): boolean {
  if (entry.protocol === 'tcp') return entry.state === TCP_STATE.ESTABLISHED || entry.state === TCP_STATE.SYN_SENT;
  return entry.remotePort !== 0;
}

const FILES = [['tcp', 'tcp'], ['tcp6', 'tcp'], ['udp', 'udp'], ['udp6', 'udp']] as const;
const SEPARATOR = '\u0000';

/**
 * The four socket tables of one network namespace as one text (read through a process living
 * in it), so an unchanged namespace is recognised by comparing strings; undefined when the
 * process is gone.
 */
export function readNamespaceText(procRoot: string, pid: number | 'self'): string | undefined {
  const parts: string[] = [];
  for (const [file] of FILES) {
    try {
      parts.push(readFileSync(`${procRoot}/${pid}/net/${file}`, 'latin1'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && file.endsWith('6')) parts.push(''); // no IPv6 in this kernel
      else return undefined;
    }
  }
  return parts.join(SEPARATOR);
}

export function parseNamespaceText(text: string): SocketEntry[] {
  const out: SocketEntry[] = [];
  text.split(SEPARATOR).forEach((part, i) => {
    for (const entry of parseProcNet(part, FILES[i]![1])) if (entry.inode) out.push(entry);
  });
  return out;
}

/**
 * In-use socket counts of a namespace by table (TCP, TCP6, UDP, UDP6), from sockstat and
 * sockstat6: reading them costs nothing, while each socket table costs the kernel a walk of its
 * hash tables (milliseconds, even with few sockets). TIME_WAIT and memory figures are left out:
 * they change all the time on a busy node and say nothing about the sockets the agent reports.
 */
export function readSocketCounters(procRoot: string, pid: number): Record<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/net/sockstat`, 'latin1');
  } catch {
    return undefined;
  }
  try {
    text += readFileSync(`${procRoot}/${pid}/net/sockstat6`, 'latin1');
  } catch { /* no IPv6 */ }
  const counters: Record<string, string> = {};
  for (const match of text.matchAll(/^(TCP6?|UDP6?): inuse (\d+)(?: orphan \d+ tw \d+ alloc (\d+))?/gm)) counters[match[1]!.toLowerCase()] = `${match[2]}/${match[3] ?? ''}`;
  return counters;
}

/** The socket tables, in the order parseNamespaceText expects them. */
export const SOCKET_TABLES = FILES.map(([file]) => file);

/** One socket table of a namespace; '' when the kernel has no IPv6, undefined when the process is gone. */
export function readSocketTable(procRoot: string, pid: number, file: string): string | undefined {
  try {
    return readFileSync(`${procRoot}/${pid}/net/${file}`, 'latin1');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' && file.endsWith('6') ? '' : undefined;
  }
}

/** Joins the four tables of a namespace the way readNamespaceText does. */
export function joinSocketTables(parts: string[]): string {
  return parts.join(SEPARATOR);
}

/** All sockets of one network namespace, read through a process living in it. */
export function readNamespaceSockets(procRoot: string, pid: number | 'self'): SocketEntry[] {
  const text = readNamespaceText(procRoot, pid);
  return text === undefined ? [] : parseNamespaceText(text);
}

/** Socket inodes held by one process (from its fd links). */
export function socketInodesOf(procRoot: string, pid: number): number[] {
  let fds: string[];
  try {
    fds = readdirSync(`${procRoot}/${pid}/fd`);
  } catch {
    return [];
  }
  const inodes: number[] = [];
  for (const fd of fds) {
    let link: string;
    try {
      link = readlinkSync(`${procRoot}/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (link.startsWith('socket:[')) inodes.push(Number(link.slice(8, -1)));
  }
  return inodes;
}

/**
 * Inode → pid, filled lazily: `resolve` scans fds of the given candidate processes (newest
 * first: new sockets mostly belong to new processes) until every wanted inode is found, or
 * `budget` processes were scanned: a socket closed before we looked (short connections are
 * common) would otherwise cost a scan of every process on the node at every interval.
 */
export class SocketOwners {
  private readonly owners = new Map<number, number>();
  constructor(private readonly procRoot = '/proc') {}

  get(inode: number): number | undefined {
    return this.owners.get(inode);
  }

  resolve(wanted: Iterable<number>, candidates: number[], budget = Infinity): void {
    const missing = new Set<number>();
    for (const inode of wanted) if (!this.owners.has(inode)) missing.add(inode);
    if (!missing.size) return;
    // Processes that held sockets before are likeliest to open more: scan them first, then the newest.
    const known = new Set(this.owners.values());
    const ordered = [...candidates].sort((a, b) => (known.has(b) ? 1 : 0) - (known.has(a) ? 1 : 0) || b - a);
    let scanned = 0;
    for (const pid of ordered) {
      if (scanned++ >= budget) break;
      for (const inode of socketInodesOf(this.procRoot, pid)) {
        // Keep the first owner seen: forked children inherit sockets, the newest pid is scanned first.
        if (missing.delete(inode)) this.owners.set(inode, pid);
        else if (!this.owners.has(inode)) this.owners.set(inode, pid);
      }
      if (!missing.size) break;
    }
  }

  /** Forgets inodes that no longer exist. */
  retain(alive: Set<number>): void {
    for (const inode of this.owners.keys()) if (!alive.has(inode)) this.owners.delete(inode);
  }
}
