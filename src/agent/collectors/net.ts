/**
 * Sockets from /proc/PID/net/{tcp,tcp6,udp,udp6}, read once per network namespace (a
 * container has its own), and socket inode → process by reading fd links. The fd scan is
 * the expensive part, so it runs only for inodes not seen before, and stops once they are found.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Endpoint } from '../events.js';

export type Protocol = 'tcp' | 'udp';

export interface SocketEntry {
  protocol: Protocol;
  local: Endpoint;
  remote: Endpoint;
  /** Kernel state code: TCP 0A LISTEN, 01 ESTABLISHED, 02 SYN_SENT; UDP 07 unconnected, 01 connected. */
  state: number;
  uid: number;
  inode: number;
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

/** One /proc/net/{tcp,udp}{,6} file. */
export function parseProcNet(text: string, protocol: Protocol): SocketEntry[] {
  const entries: SocketEntry[] = [];
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const fields = lines[i]!.trim().split(/\s+/);
    if (fields.length < 10) continue;
    entries.push({
      protocol,
      local: endpoint(fields[1]!),
      remote: endpoint(fields[2]!),
      state: Number.parseInt(fields[3]!, 16),
      uid: Number(fields[7]),
      inode: Number(fields[9]),
    });
  }
  return entries;
}

export function isListening(entry: SocketEntry): boolean {
  if (entry.protocol === 'tcp') return entry.state === TCP_STATE.LISTEN;
  return entry.remote.port === 0;
}

export function isConnection(entry: SocketEntry): boolean {
  if (entry.protocol === 'tcp') return entry.state === TCP_STATE.ESTABLISHED || entry.state === TCP_STATE.SYN_SENT;
  return entry.remote.port !== 0;
}

/** All sockets of one network namespace, read through a process living in it. */
export function readNamespaceSockets(procRoot: string, pid: number | 'self'): SocketEntry[] {
  const out: SocketEntry[] = [];
  for (const [file, protocol] of [['tcp', 'tcp'], ['tcp6', 'tcp'], ['udp', 'udp'], ['udp6', 'udp']] as const) {
    let text: string;
    try {
      text = readFileSync(`${procRoot}/${pid}/net/${file}`, 'latin1');
    } catch {
      continue; // no IPv6 in this kernel or the process is gone
    }
    for (const entry of parseProcNet(text, protocol)) if (entry.inode) out.push(entry);
  }
  return out;
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
 * first: new sockets mostly belong to new processes) until every wanted inode is found.
 */
export class SocketOwners {
  private readonly owners = new Map<number, number>();
  constructor(private readonly procRoot = '/proc') {}

  get(inode: number): number | undefined {
    return this.owners.get(inode);
  }

  resolve(wanted: Iterable<number>, candidates: number[]): void {
    const missing = new Set<number>();
    for (const inode of wanted) if (!this.owners.has(inode)) missing.add(inode);
    if (!missing.size) return;
    const ordered = [...candidates].sort((a, b) => b - a);
    for (const pid of ordered) {
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
