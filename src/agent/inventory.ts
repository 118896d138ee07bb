/** What a heartbeat says about the node: hostname, kernel, OS, cores, container runtime. */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { detectRuntimeSocket } from './containers.js';
import type { NodeInventory } from './wire.js';

export const AGENT_VERSION = '0.1.0';

/** PRETTY_NAME from os-release under the host root (the DaemonSet mounts the host's / read-only). */
function osName(hostRoot: string): string | undefined {
  for (const file of ['etc/os-release', 'usr/lib/os-release']) {
    const path = `${hostRoot.replace(/\/?$/, '/')}${file}`;
    if (!existsSync(path)) continue;
    const match = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync(path, 'utf8'));
    if (match) return match[1];
  }
  return undefined;
}

export function nodeInventory(options: { name?: string; hostRoot?: string; runtime?: string } = {}): NodeInventory {
  const hostRoot = options.hostRoot ?? '/';
  const socket = detectRuntimeSocket(hostRoot);
  const runtime = options.runtime ?? (socket?.includes('containerd') ? 'containerd' : socket?.includes('crio') ? 'cri-o' : socket?.includes('dockerd') ? 'docker' : undefined);
  const osPretty = osName(hostRoot);
  return {
    name: options.name ?? process.env.NODE_NAME ?? os.hostname(),
    kernel: os.release(),
    ...(osPretty ? { os: osPretty } : {}),
    cores: os.availableParallelism(),
    ...(runtime ? { runtime } : {}),
    agentVersion: AGENT_VERSION,
  };
}
