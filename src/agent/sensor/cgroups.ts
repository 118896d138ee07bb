/**
 * cgroup id → container. The eBPF sensor reports each process's cgroup v2 id (the inode number
 * of its cgroup directory), which outlives the process: a process that lived 1 ms is still
 * placed in its container by finding the directory with that inode and reading the container
 * id from its path, as /proc/PID/cgroup would have said.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { containerFromCgroup } from '../containers.js';
import type { ContainerRef } from '../events.js';

export interface CgroupPlace {
  path: string;
  container?: ContainerRef;
  /** When the cgroup directory was made: the container's start, for "written after start". */
  createdMs: number;
}

/** The cgroup v2 mount under a cgroup root: the root itself (unified), or its `unified` child (hybrid). */
export function cgroup2Root(cgroupRoot = '/sys/fs/cgroup'): string | undefined {
  if (existsSync(path.join(cgroupRoot, 'cgroup.controllers'))) return cgroupRoot;
  const hybrid = path.join(cgroupRoot, 'unified');
  return existsSync(path.join(hybrid, 'cgroup.procs')) ? hybrid : undefined;
}

export class CgroupResolver {
  private readonly byId = new Map<number, CgroupPlace>();
  private lastScan = 0;

  constructor(private readonly root: string | undefined, private readonly options: { minRescanMs?: number; maxDirs?: number; maxDepth?: number } = {}) {}

  /** Where a cgroup id lives; rescans the hierarchy (at most once per minRescanMs) for an unknown id. */
  lookup(id: number): CgroupPlace | undefined {
    if (!this.root || !id) return undefined;
    const known = this.byId.get(id);
    if (known) return known;
    if (Date.now() - this.lastScan < (this.options.minRescanMs ?? 500)) return undefined;
    this.scan();
    return this.byId.get(id);
  }

  /** Walks the hierarchy once (bounded), recording every directory by inode. */
  scan(): void {
    if (!this.root) return;
    this.lastScan = Date.now();
    const maxDirs = this.options.maxDirs ?? 50_000;
    const maxDepth = this.options.maxDepth ?? 10;
    const seen = new Set<number>();
    const stack: { dir: string; rel: string; depth: number }[] = [{ dir: this.root, rel: '/', depth: 0 }];
    while (stack.length && seen.size < maxDirs) {
      const { dir, rel, depth } = stack.pop()!;
      let ino: number;
      let createdMs: number;
      try {
        const s = statSync(dir);
        ino = s.ino;
        createdMs = s.birthtimeMs || s.ctimeMs;
      } catch {
        continue;
      }
      seen.add(ino);
      if (!this.byId.has(ino)) {
        const container = rel === '/' ? undefined : containerFromCgroup(`0::${rel}\n`);
        this.byId.set(ino, { path: rel, createdMs, ...(container ? { container } : {}) });
      }
      if (depth >= maxDepth) continue;
      let entries: import('node:fs').Dirent[];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) if (e.isDirectory()) stack.push({ dir: path.join(dir, e.name), rel: path.posix.join(rel, e.name), depth: depth + 1 });
    }
    // Forget removed cgroups (after a complete walk only), so memory follows the live hierarchy.
    if (!stack.length) for (const id of this.byId.keys()) if (!seen.has(id)) this.byId.delete(id);
  }
}
