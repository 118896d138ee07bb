/**
 * Binary drift on overlayfs: was an executed file written into the container after it started?
 * A container's root file system is an overlay of the image's read-only layers (lowerdirs) under
 * one writable layer (upperdir, containerd's snapshot `fs` directory). A file created, copied in,
 * or modified (even chmod +x) after the container started lives in the upper layer; a file the
 * image shipped and nobody touched lives only in a lower one. Falco's `proc.is_exe_upper_layer`
 * asks the same question in the kernel (the overlay inode's upper dentry, which host.bt reports
 * in its Z record); here the agent answers it from the executed path and the container's mounts
 * (/proc/PID/mountinfo), which also names the file in the upper directory as evidence.
 */
import { lstatSync, readFileSync, readlinkSync, statSync, type Stats } from 'node:fs';

export interface OverlayMount {
  /** Where the overlay is mounted, as the container sees it ("/" for its root file system). */
  mountPoint: string;
  upper: string;
  /** Lower layers, topmost first (overlay's lowerdir order). */
  lowers: string[];
}

/** mountinfo escapes space, tab, newline and backslash as octal (\040 ...). */
function unescapeOctal(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Splits on a separator not escaped with a backslash (overlay's options, its lowerdir list); escapes are kept for the next split. */
function splitUnescaped(text: string, separator: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      current += c + text[++i];
    } else if (c === separator) {
      out.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  out.push(current);
  return out;
}

const unescapeBackslash = (text: string): string => text.replace(/\\(.)/g, '$1');

/** The overlay mounts of a /proc/PID/mountinfo text that have a writable (upper) layer. */
export function overlayMounts(mountinfo: string): OverlayMount[] {
  const mounts: OverlayMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const before = line.slice(0, dash).split(' ');
    const [fstype, , superOptions] = line.slice(dash + 3).split(' ');
    if (fstype !== 'overlay' || !superOptions || before.length < 5) continue;
    let upper: string | undefined;
    const lowers: string[] = [];
    for (const option of splitUnescaped(unescapeOctal(superOptions), ',')) {
      if (option.startsWith('upperdir=')) upper = unescapeBackslash(option.slice(9));
      // lowerdir=a:b:c (topmost first); the new mount API shows one lowerdir+= per layer instead.
      else if (option.startsWith('lowerdir=')) lowers.push(...splitUnescaped(option.slice(9), ':').filter(Boolean).map(unescapeBackslash));
      else if (option.startsWith('lowerdir+=')) lowers.push(unescapeBackslash(option.slice(10)));
    }
    if (upper) mounts.push({ mountPoint: unescapeOctal(before[4]!), upper, lowers });
  }
  return mounts;
}

/** The overlay a path is on (the deepest mount point above it) and the path inside it; undefined when on none. */
export function overlayOf(mounts: OverlayMount[], file: string): { mount: OverlayMount; inside: string } | undefined {
  let best: OverlayMount | undefined;
  for (const m of mounts) {
    const prefix = m.mountPoint === '/' ? '/' : `${m.mountPoint}/`;
    if ((file.startsWith(prefix) || file === m.mountPoint) && (!best || m.mountPoint.length > best.mountPoint.length)) best = m;
  }
  if (!best) return undefined;
  return { mount: best, inside: best.mountPoint === '/' ? file : file.slice(best.mountPoint.length) || '/' };
}

function lstatOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch {
    return undefined;
  }
}

/** overlay's whiteout: a character device 0/0 in a higher layer hides the name below it. */
function isWhiteout(s: Stats): boolean {
  return s.isCharacterDevice() && s.rdev === 0;
}

const MAX_SYMLINKS = 40;

/**
 * Which layer holds a path as the merged view resolves it (0 = the upper layer, 1.. the lowers),
 * following symbolic links as the kernel would (an image's /bin -> usr/bin), with the file's
 * location on the host. Undefined when no layer has it (deleted, or on another mount).
 * Opaque directories (an xattr Node cannot read) are not honoured: a lower entry under a
 * directory the container replaced may be found; the upper layer is always looked at first.
 */
export function layerOf(layers: string[], file: string, hostRoot = ''): { layer: number; hostPath: string; stats: Stats } | undefined {
  let pending = file.split('/').filter(Boolean);
  let resolved: string[] = [];
  let links = 0;
  while (pending.length) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const rel = '/' + [...resolved, part].join('/');
    let found: { layer: number; hostPath: string; stats: Stats } | undefined;
    for (let i = 0; i < layers.length && !found; i++) {
      const hostPath = hostRoot + layers[i] + rel;
      const stats = lstatOrUndefined(hostPath);
      if (stats) found = { layer: i, hostPath, stats };
    }
    if (!found || isWhiteout(found.stats)) return undefined;
    if (found.stats.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) return undefined;
      const target = readlinkSync(found.hostPath, 'latin1');
      if (target.startsWith('/')) resolved = [];
      pending = [...target.split('/').filter(Boolean), ...pending];
      continue;
    }
    if (!pending.length) return found;
    if (!found.stats.isDirectory()) return undefined;
    resolved.push(part);
  }
  return undefined;
}

export interface UpperLayerFinding {
  /** The file is in the container's writable layer: written or changed after the container started. */
  upperLayer: boolean;
  /** Where the file is on the host (the upper or lower layer directory holding it). */
  hostPath: string;
}

const MAX_NAMESPACES = 4096;
const MOUNTS_TTL_MS = 60_000;

/**
 * The upper-layer check for exec events, with each mount namespace's overlay mounts read once
 * a minute from a live process in it (a process that lived 1 ms is gone; its parent or any
 * other process of the container still shows the same mounts).
 */
export class UpperLayerCheck {
  private readonly byNamespace = new Map<number, { mounts: OverlayMount[]; at: number }>();

  constructor(private readonly options: { procRoot: string; hostRoot?: string }) {}

  /** The finding for `file` (absolute, as the container saw it) executed in mount namespace `mntns`; pids are candidates to read mounts from. */
  check(file: string, mntns: number, pids: number[]): UpperLayerFinding | undefined {
    if (!file.startsWith('/') || !mntns) return undefined;
    const mounts = this.mounts(mntns, pids);
    if (!mounts) return undefined;
    const on = overlayOf(mounts, file);
    if (!on) return undefined;
    const found = layerOf([on.mount.upper, ...on.mount.lowers], on.inside, this.options.hostRoot ?? '');
    if (!found || !found.stats.isFile()) return undefined;
    return { upperLayer: found.layer === 0, hostPath: found.hostPath };
  }

  private mounts(mntns: number, pids: number[]): OverlayMount[] | undefined {
    const cached = this.byNamespace.get(mntns);
    if (cached && Date.now() - cached.at < MOUNTS_TTL_MS) return cached.mounts;
    for (const pid of pids) {
      if (pid <= 0) continue;
      try {
        // The pid may have exited and been reused: its namespace must be the one the exec ran in.
        if (statSync(`${this.options.procRoot}/${pid}/ns/mnt`).ino !== mntns) continue;
        const mounts = overlayMounts(readFileSync(`${this.options.procRoot}/${pid}/mountinfo`, 'latin1'));
        this.byNamespace.set(mntns, { mounts, at: Date.now() });
        if (this.byNamespace.size > MAX_NAMESPACES) this.byNamespace.delete(this.byNamespace.keys().next().value!);
        return mounts;
      } catch {
        continue;
      }
    }
    return cached?.mounts;
  }
}
