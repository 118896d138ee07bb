/**
 * Changes to the files attackers use for persistence and cover-up (accounts, sudoers, cron,
 * authorized_keys, shell history), found by comparing stat results between intervals: on the
 * host and inside each container through /proc/PID/root. Without auditd this is how the agent
 * sees them; with auditd's watch rules the audit log names the process too.
 */
import { statSync } from 'node:fs';

export const WATCHED_FILES = [
  '/etc/passwd', '/etc/shadow', '/etc/group', '/etc/gshadow', '/etc/sudoers', '/etc/sudoers.d', '/etc/crontab', '/etc/cron.d',
  '/var/spool/cron/crontabs', '/var/spool/cron', '/root/.ssh/authorized_keys', '/root/.bash_history', '/root/.ash_history', '/root/.zsh_history',
];

export interface FileChange {
  /** The path as seen inside its root (host or container). */
  path: string;
  /** The root the path is under: '' for the host, or /proc/PID/root. */
  root: string;
  op: 'create' | 'modify' | 'truncate' | 'delete';
  size: number;
  mtimeMs: number;
}

interface Seen { size: number; mtimeMs: number; ino: number; exists: boolean }

export class FileWatch {
  private readonly seen = new Map<string, Seen>();
  constructor(private readonly files: readonly string[] = WATCHED_FILES) {}

  /** Compares each watched file under each root with the last look; the first look is the baseline. */
  poll(roots: string[]): FileChange[] {
    const changes: FileChange[] = [];
    const live = new Set<string>();
    for (const root of roots) {
      for (const file of this.files) {
        const key = `${root}\u0000${file}`;
        live.add(key);
        let now: Seen;
        try {
          const s = statSync(root + file, { bigint: false });
          now = { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino, exists: true };
        } catch {
          now = { size: 0, mtimeMs: 0, ino: 0, exists: false };
        }
        const before = this.seen.get(key);
        this.seen.set(key, now);
        if (!before) continue;
        if (before.exists && !now.exists) changes.push({ path: file, root, op: 'delete', size: 0, mtimeMs: 0 });
        else if (!before.exists && now.exists) changes.push({ path: file, root, op: 'create', size: now.size, mtimeMs: now.mtimeMs });
        else if (now.exists && (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino || now.size !== before.size)) {
          changes.push({ path: file, root, op: now.size < before.size ? 'truncate' : 'modify', size: now.size, mtimeMs: now.mtimeMs });
        }
      }
    }
    for (const key of this.seen.keys()) if (!live.has(key)) this.seen.delete(key);
    return changes;
  }
}
