import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The file a running server leaves in its data directory so that `palisade token create`,
 * `registry add` … on the same machine talk to it instead of opening the (locked) embedded
 * database. It holds a local admin credential, so it is written 0600 and removed on stop;
 * the data directory it sits in already holds the whole database, so it widens nothing.
 */
export const DISCOVERY_FILE = 'server.json';

export interface ServerDiscovery {
  /** Where a local client reaches the API (loopback when the server listens on every address). */
  url: string;
  /** An admin token created for this run of the server and revoked when it stops. */
  token: string;
  tokenId: string;
  pid: number;
  startedAt: string;
}

export function discoveryPath(dataDir: string): string {
  return path.join(dataDir, DISCOVERY_FILE);
}

export function writeDiscovery(dataDir: string, discovery: ServerDiscovery): string {
  const file = discoveryPath(dataDir);
  mkdirSync(dataDir, { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(discovery, null, 2)}\n`, { mode: 0o600 });
  // mode only applies to a new file; a leftover temporary from a killed run keeps its own.
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
  return file;
}

/** The discovery file's content, or undefined when there is none or it is not one of ours. */
export function readDiscovery(dataDir: string): ServerDiscovery | undefined {
  let text: string;
  try {
    text = readFileSync(discoveryPath(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as Partial<ServerDiscovery>;
    if (typeof parsed.url !== 'string' || typeof parsed.token !== 'string' || typeof parsed.pid !== 'number') return undefined;
    return { url: parsed.url, token: parsed.token, tokenId: String(parsed.tokenId ?? ''), pid: parsed.pid, startedAt: String(parsed.startedAt ?? '') };
  } catch {
    return undefined;
  }
}

/** Removes the file if it is still the one this process wrote (a newer server may have replaced it). */
export function removeDiscovery(dataDir: string, pid: number = process.pid): void {
  const current = readDiscovery(dataDir);
  if (current && current.pid !== pid) return;
  rmSync(discoveryPath(dataDir), { force: true });
}

/** The address a client on this machine uses for a listener bound to `host`. */
export function localUrl(protocol: 'http' | 'https', host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' || host === '[::]' ? '::1' : host;
  return `${protocol}://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}
